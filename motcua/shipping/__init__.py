"""The centre's side of shipping to the province (issue 13): the outbox the
database fills by triggers, and `motcua ship`, the separate process that sends
it in acknowledged batches and publishes the centre's live tile. docs/province.md."""
