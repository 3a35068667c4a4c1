"""The province's PostgreSQL database, as the hub writes it (docs/province.md,
"The hub's database"): its own numbered migrations, and the one transaction
that stores a group of batches.

Tables (migration 1):

- `records(centre, seq, kind, body jsonb, received_at)`: every record as a
  centre shipped it, minus any key that could name a citizen
  (ingest.CITIZEN_KEYS); `(centre, seq)` is the primary key, so a record
  delivered twice (a resend, a second hub) is stored once.
- `centres(id, acked, acked_at, first_seen, link, link_at)`: per centre the
  highest contiguous sequence committed (the acknowledgement) and the bridge's
  last word on `ship/link`.
- The projections the province report reads, the centre's own tables with a
  `centre` column in front and `rec_seq`, the record that wrote the row:
  `events`, `tickets`, `counters`, `ratings`, `ticket_dossiers`, `dossiers`
  (no applicant_name, no documents), `dossier_steps` (no note),
  `dossier_apologies` (no reason), `sites` (the latest `site` record per
  centre), and (migration 2, issue 14) `bookings` and the tickets' `origin`,
  `booking`, `checked_in_at`, the counters' `booking_run`; never a phone. Columns keep the centre's names and meanings; times stay the
  centre's ISO text in UTC ("2026-12-07T02:31:05.120+00:00", sortable, cast
  with ::timestamptz when needed) and days "YYYY-MM-DD", so the report's
  queries keep their shape. A row is replaced only by a record with a higher
  sequence number: each row holds the latest version of its key.

Never a private pause's reason (migration 3, issue 13): a counter's
`pause_reason` unless `pause_public`, a `counter_paused` event's `data.reason`
unless `data.public`, are stored as null in `records` and the projections.

Migrations: numbered steps in one list, the version in `hub_schema`; each step
runs in its own transaction under an advisory lock, so two hubs starting at
once migrate once. A database newer than the code is refused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import psycopg

from .ingest import CITIZEN_KEYS, KINDS, Batch, advance

log = logging.getLogger("motcua.province.store")

MIGRATION_LOCK = 0x4D435548   # "MCUH": pg_advisory_xact_lock key of the hub's migrations


@dataclass(frozen=True)
class Step:
    version: int
    what: str
    sql: str


_TABLES = """
CREATE TABLE centres (
    id          text PRIMARY KEY,           -- the centre's site id
    acked       bigint NOT NULL DEFAULT 0,  -- every record up to here is stored
    acked_at    timestamptz,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    link        boolean,                    -- the bridge's last ship/link (1 up, 0 down)
    link_at     timestamptz
);
CREATE TABLE records (
    centre      text NOT NULL,
    seq         bigint NOT NULL,            -- the centre's outbox sequence
    kind        text NOT NULL,
    body        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (centre, seq)
);
CREATE TABLE events (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    seq bigint NOT NULL, at text, type text, ticket_id bigint, counter integer, data jsonb,
    PRIMARY KEY (centre, seq)
);
CREATE INDEX events_centre_at ON events (centre, at);
CREATE TABLE tickets (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    id bigint NOT NULL, day text, service text, number integer, label text, priority text,
    state text, issued_at text, order_at text, device text, called_at text, first_called_at text,
    started_at text, finished_at text, counter integer, officer text, recalls integer,
    transfers integer, original_service text,
    PRIMARY KEY (centre, id)
);
CREATE INDEX tickets_centre_day ON tickets (centre, day);
CREATE TABLE counters (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    number integer NOT NULL, state text, officer text, officer_name text, ticket_id bigint,
    pause_reason text, pause_public integer, priority_run integer, updated_at text,
    PRIMARY KEY (centre, number)
);
CREATE TABLE ratings (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    rating_id text NOT NULL, pad text, boot bigint, seq bigint, counter integer, prompt text,
    status text, ticket_id bigint, ticket text, officer text, service text, level integer,
    level_code text, weight double precision, pressed_at text, received_at text, day text,
    hour integer, dossiers jsonb,
    PRIMARY KEY (centre, rating_id)
);
CREATE INDEX ratings_centre_day ON ratings (centre, day);
CREATE TABLE ticket_dossiers (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    ticket_id bigint NOT NULL, code text NOT NULL, procedure_code text, counter integer,
    officer text, attached_at text,
    PRIMARY KEY (centre, ticket_id, code)
);
CREATE INDEX ticket_dossiers_centre_code ON ticket_dossiers (centre, code);
CREATE TABLE dossiers (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    code text NOT NULL, procedure_code text, procedure_name text, field text,
    received_at text, due_at text, status text,
    PRIMARY KEY (centre, code)
);
CREATE INDEX dossiers_centre_received ON dossiers (centre, received_at);
CREATE INDEX dossiers_centre_status ON dossiers (centre, status);
CREATE TABLE dossier_steps (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    code text NOT NULL, seq integer NOT NULL, step text, at text,
    PRIMARY KEY (centre, code, seq)
);
CREATE INDEX dossier_steps_centre_at ON dossier_steps (centre, at, step, code);
CREATE TABLE ticket_dossiers_detached (       -- dossiers taken off tickets (dossier_detached events)
    centre text NOT NULL, rec_seq bigint NOT NULL,
    ticket_id bigint NOT NULL, code text NOT NULL,
    PRIMARY KEY (centre, ticket_id, code)
);
CREATE TABLE dossier_apologies (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    code text NOT NULL, new_due_at text, issued_at text,
    PRIMARY KEY (centre, code)
);
CREATE TABLE sites (
    centre text PRIMARY KEY, rec_seq bigint NOT NULL,
    id text NOT NULL, name text, timezone text, body jsonb   -- body: the whole site record
);
"""

# Issue 14: what the centre's migration 10 ships. Rows stored before keep what
# their records say: a ticket or counter record from a centre that was upgraded
# before the hub already carries the new columns (the hub stored the body whole
# but had no column for them), so they are filled from `records`; a record
# without them leaves them empty, as the centre's are for a walk-in. (A `booking`
# record was refused by the hub of before, so none is stored yet: the centre's
# resend brings it.)
_BOOKINGS = """
ALTER TABLE tickets ADD COLUMN origin text, ADD COLUMN booking bigint, ADD COLUMN checked_in_at text;
ALTER TABLE counters ADD COLUMN booking_run integer;
CREATE INDEX tickets_centre_remote_day ON tickets (centre, day) WHERE origin = 'remote';
CREATE TABLE bookings (
    centre text NOT NULL, rec_seq bigint NOT NULL,
    id bigint NOT NULL, day text, service text, time text, ends text, state text, created_at text,
    device text, ticket_id bigint, checked_in_at text, ended_at text,   -- never a phone
    PRIMARY KEY (centre, id)
);
CREATE INDEX bookings_centre_day ON bookings (centre, day);
UPDATE tickets t SET origin = r.body->>'origin', booking = (r.body->>'booking')::bigint,
       checked_in_at = r.body->>'checked_in_at'
FROM records r WHERE r.centre = t.centre AND r.seq = t.rec_seq
  AND r.body ?| array['origin', 'booking', 'checked_in_at'];
UPDATE counters c SET booking_run = (r.body->>'booking_run')::integer
FROM records r WHERE r.centre = c.centre AND r.seq = c.rec_seq AND r.body ? 'booking_run';
"""



def _public(value: str) -> str:
    """SQL: a pause's pause_public / public (jsonb) is true (1 or true; null is not)."""
    return (f"coalesce({value} = 'true'::jsonb OR (jsonb_typeof({value}) = 'number' "
            f"AND {value} <> '0'::jsonb), false)")


def scrub_private_pause_sql(body: str, kind: str) -> str:
    """SQL: the record's body (jsonb) with a private pause's reason set to null, as
    ingest.scrub_private_pause: a counter's pause_reason unless pause_public, a
    counter_paused event's data.reason unless data.public. A centre shipped them
    before its migration 11 (issue 13): the officer's reason is the officer's."""
    pause_public, public = f"({body}->'pause_public')", f"({body}->'data'->'public')"
    return (f"CASE WHEN {kind} = 'counter' AND {body}->>'pause_reason' IS NOT NULL "
            f"AND NOT {_public(pause_public)} THEN jsonb_set({body}, '{{pause_reason}}', 'null') "
            f"WHEN {kind} = 'event' AND {body}->>'type' = 'counter_paused' "
            f"AND jsonb_typeof({body}->'data') = 'object' AND {body}->'data'->>'reason' IS NOT NULL "
            f"AND NOT {_public(public)} THEN jsonb_set({body}, '{{data,reason}}', 'null') ELSE {body} END")


# Issue 13: a private pause's reason, shipped by centres before their migration 11,
# scrubbed from what the hub holds: the records and the projections (counters,
# events). Public pauses keep theirs: the hall shows them anyway.
_PRIVATE_PAUSES = f"""
UPDATE records SET body = {scrub_private_pause_sql('body', 'kind')}
WHERE (kind = 'counter' AND body->>'pause_reason' IS NOT NULL)
   OR (kind = 'event' AND body->>'type' = 'counter_paused');
UPDATE counters SET pause_reason = NULL WHERE pause_reason IS NOT NULL AND coalesce(pause_public, 0) = 0;
UPDATE events SET data = jsonb_set(data, '{{reason}}', 'null')
WHERE type = 'counter_paused' AND jsonb_typeof(data) = 'object' AND data->>'reason' IS NOT NULL
  AND NOT {_public("(data->'public')")};
"""

STEPS: tuple[Step, ...] = (
    Step(1, "records, centres (acknowledgements, link) and the projections: events, tickets, "
            "counters, ratings, ticket_dossiers, dossiers, dossier_steps, dossier_apologies, sites",
         _TABLES),
    Step(2, "numbers from afar and bookings: tickets.origin, booking, checked_in_at, counters.booking_run "
            "(filled from the records), bookings", _BOOKINGS),
    Step(3, "a private pause's reason scrubbed: counters' pause_reason and counter_paused events' "
            "data.reason unless public, in records and in the projections", _PRIVATE_PAUSES),
)
VERSION = len(STEPS)
assert [s.version for s in STEPS] == list(range(1, VERSION + 1)), "steps are numbered 1, 2, 3 …"


class StoreError(RuntimeError):
    """The database cannot be used as the hub's; the message says what to do."""


def connect(dsn: str, migrate_it: bool = True, timeout: float = 10) -> psycopg.Connection:
    """A connection to the province's database, migrated to this code's version."""
    conn = psycopg.connect(dsn, connect_timeout=max(1, int(timeout)),
                           application_name="motcua province hub")
    if migrate_it:
        migrate(conn)
    return conn


def version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('hub_schema') IS NOT NULL").fetchone()[0]
    v = conn.execute("SELECT coalesce(max(version), 0) FROM hub_schema").fetchone()[0] if exists else 0
    conn.commit()
    return v


def migrate(conn: psycopg.Connection) -> int:
    """Bring the database to VERSION; returns the version it had. Each step is
    one transaction, taken under an advisory lock so that two hubs do not run it twice."""
    before = None
    for step in STEPS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            conn.execute("CREATE TABLE IF NOT EXISTS hub_schema (version integer PRIMARY KEY, "
                         "what text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            current = conn.execute("SELECT coalesce(max(version), 0) FROM hub_schema").fetchone()[0]
            if before is None:
                before = current
            if current > VERSION:
                raise StoreError(f"the province's database has the hub's schema version {current}, "
                                 f"newer than this motcua ({VERSION}); upgrade motcua on this machine")
            if current >= step.version:
                continue
            conn.execute(step.sql)
            conn.execute("INSERT INTO hub_schema(version, what) VALUES (%s, %s)", [step.version, step.what])
            log.info("the province's database: migration %d (%s)", step.version, step.what)
    if before is None:   # no steps at all
        before = version(conn)
    return before


# -- storing a group of batches --------------------------------------------------------
#
# A group is stored in one transaction of a few statements: the records first
# (each (centre, seq) once: `ON CONFLICT DO NOTHING` skips those already there,
# stored by an earlier delivery or by another hub), the new ones also kept in a
# temporary table; then, from the new records only, each projection in turn.
# Every statement writes its rows in (centre, key) order, so two hubs writing
# the same rows take their locks in the same order and do not deadlock.

NEW_RECORDS = ("CREATE TEMP TABLE IF NOT EXISTS new_records (centre text, seq bigint, kind text, body jsonb) "
               "ON COMMIT DELETE ROWS")

INSERT_RECORDS = f"""
WITH incoming AS (
  SELECT DISTINCT ON (b.p->>'centre', (r->>'seq')::bigint)
         b.p->>'centre' AS centre, (r->>'seq')::bigint AS seq, r->>'kind' AS kind,
         (r->'body') - %(citizen)s::text[] AS body
  FROM unnest(%(payloads)b::jsonb[]) AS b(p) CROSS JOIN LATERAL jsonb_array_elements(b.p->'records') r
  ORDER BY 1, 2),
new AS (
  INSERT INTO records (centre, seq, kind, body)
  SELECT centre, seq, kind, {scrub_private_pause_sql('body', 'kind')} FROM incoming ORDER BY centre, seq
  ON CONFLICT (centre, seq) DO NOTHING
  RETURNING centre, seq, kind, body),
kept AS (INSERT INTO new_records SELECT * FROM new)
SELECT centre, count(*) FROM new GROUP BY centre"""


def _upsert(kind, unless: str = "") -> str:
    """The kind's new records into its table: the latest version of each key
    only, and a row is replaced by a higher seq, never a lower. `unless`: a
    condition on n (the record) and t (its row) that skips a record. A centre
    has one site: `sites` is keyed by the centre alone and keeps the whole record
    in `body` too."""
    site = kind.name == "site"
    cols = list(kind.fields) + (["body"] if site else [])
    picked = [f"t.{c}" for c in kind.fields] + (["n.body"] if site else [])
    keys = ["n.centre"] + ([] if site else [f"t.{k}" for k in kind.keys])
    conflict = ["centre"] + ([] if site else list(kind.keys))
    updates = [c for c in ["rec_seq", *cols] if site or c not in kind.keys]
    t = kind.table
    return (f"INSERT INTO {t} (centre, rec_seq, {', '.join(cols)})\n"
            f"SELECT DISTINCT ON ({', '.join(keys)}) n.centre, n.seq, {', '.join(picked)}\n"
            f"FROM new_records n CROSS JOIN LATERAL jsonb_populate_record(NULL::{t}, "
            f"n.body - '{{centre,rec_seq}}'::text[]) t\n"
            f"WHERE n.kind = '{kind.name}'{f' AND NOT {unless}' if unless else ''}\n"
            f"ORDER BY {', '.join(keys)}, n.seq DESC\n"
            f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET "
            f"{', '.join(f'{c} = excluded.{c}' for c in updates)}\n"
            f"WHERE {t}.rec_seq < excluded.rec_seq")


_K = KINDS
PROJECTIONS: tuple[str, ...] = (
    *(_upsert(_K[k]) for k in ("event", "ticket", "counter", "rating", "dossier", "apology", "site", "booking")),
    # A dossier written again at the centre has its steps deleted and written again
    # after its `dossier` record: a step older than its dossier's latest record is
    # gone at the centre. It is not stored, and the steps it leaves are deleted.
    _upsert(_K["dossier_step"], "EXISTS (SELECT 1 FROM dossiers d WHERE d.centre = n.centre "
                                "AND d.code = t.code AND d.rec_seq > n.seq)"),
    """DELETE FROM dossier_steps s USING dossiers d
WHERE (d.centre, d.code) IN (SELECT centre, body->>'code' FROM new_records WHERE kind = 'dossier')
  AND s.centre = d.centre AND s.code = d.code AND s.rec_seq < d.rec_seq""",
    # A dossier taken off a ticket deletes its ticket_dossiers row at the centre,
    # which ships it as a `dossier_detached` event (data: ticket_id, code). The
    # removal is remembered (records may come out of order), the row deleted, and
    # an attachment older than the removal is never stored again.
    """INSERT INTO ticket_dossiers_detached (centre, rec_seq, ticket_id, code)
SELECT DISTINCT ON (n.centre, (n.body->>'ticket_id')::bigint, n.body->'data'->>'code')
       n.centre, n.seq, (n.body->>'ticket_id')::bigint, n.body->'data'->>'code'
FROM new_records n
WHERE n.kind = 'event' AND n.body->>'type' = 'dossier_detached'
  AND n.body->>'ticket_id' IS NOT NULL AND n.body->'data'->>'code' IS NOT NULL
ORDER BY n.centre, (n.body->>'ticket_id')::bigint, n.body->'data'->>'code', n.seq DESC
ON CONFLICT (centre, ticket_id, code) DO UPDATE SET rec_seq = excluded.rec_seq
WHERE ticket_dossiers_detached.rec_seq < excluded.rec_seq""",
    """DELETE FROM ticket_dossiers td USING ticket_dossiers_detached x
WHERE (x.centre, x.ticket_id, x.code) IN (
        SELECT centre, (body->>'ticket_id')::bigint, body->'data'->>'code' FROM new_records
        WHERE kind = 'event' AND body->>'type' = 'dossier_detached')
  AND td.centre = x.centre AND td.ticket_id = x.ticket_id AND td.code = x.code AND td.rec_seq < x.rec_seq""",
    _upsert(_K["ticket_dossier"], "EXISTS (SELECT 1 FROM ticket_dossiers_detached x WHERE x.centre = n.centre "
                                  "AND x.ticket_id = t.ticket_id AND x.code = t.code AND x.rec_seq > n.seq)"),
)
assert set(_K) == {"event", "ticket", "counter", "rating", "dossier", "apology", "site", "dossier_step",
                   "ticket_dossier", "booking"}, "every kind has its projection"


@dataclass
class Stored:
    """What one group's transaction did: per centre the records it added and
    the acknowledgement after it."""
    new: dict[str, int]
    acked: dict[str, int]


class HubStore:
    """The hub's writes. Not thread-safe: one worker owns it."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.conn: psycopg.Connection | None = None

    def open(self) -> "HubStore":
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.dsn)
            # An acknowledgement is a promise: the centre never sends those records
            # again. So the hub's commits wait for the disk whatever the server's
            # default (synchronous_commit = off would lose the last ones in a crash).
            self.conn.execute("SET synchronous_commit = on")
            self.conn.execute(NEW_RECORDS)
            if self.conn.execute("SHOW fsync").fetchone()[0] == "off":
                log.warning("PostgreSQL runs with fsync off: a crash of this machine may lose records "
                            "already acknowledged to the centres; turn fsync on (only tests run without)")
            self.conn.commit()
        return self

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def store(self, batches: Sequence[Batch], payloads: Sequence[str]) -> Stored:
        """Store a group of checked batches (and their payloads as received) in
        one transaction, advance each centre's acknowledgement, commit."""
        self.open()
        conn = self.conn
        centres = sorted({b.centre for b in batches})
        with conn.transaction():
            new = dict(conn.execute(INSERT_RECORDS, {"payloads": list(payloads),
                                                     "citizen": list(CITIZEN_KEYS)}).fetchall())
            if new:
                for sql in PROJECTIONS:
                    conn.execute(sql)
            acked = self._advance(conn, centres)
        return Stored(new, acked)

    @staticmethod
    def _advance(conn: psycopg.Connection, centres: list[str]) -> dict[str, int]:
        """Each centre's acknowledgement, moved over the run of stored records
        that follows it. The centre's row is locked (FOR UPDATE) while this
        runs, so with two hubs one waits for the other's commit and then sees
        its records: the acknowledgement only moves forward, never past a gap."""
        conn.execute("INSERT INTO centres (id) SELECT unnest(%s::text[]) ORDER BY 1 "
                     "ON CONFLICT (id) DO NOTHING", [centres])
        acked = dict(conn.execute("SELECT id, acked FROM centres WHERE id = ANY(%s) ORDER BY id "
                                  "FOR UPDATE", [centres]).fetchall())
        # Usually what is stored above `acked` runs on without a gap: then there are
        # as many records as numbers up to the highest, and that is the answer.
        # Only a centre with a gap has its numbers read one by one.
        moved, gaps = {}, []
        for centre, count, top in conn.execute(
                "SELECT c.id, count(r.seq), max(r.seq) FROM unnest(%s::text[], %s::bigint[]) AS c(id, acked) "
                "LEFT JOIN records r ON r.centre = c.id AND r.seq > c.acked GROUP BY c.id",
                [centres, [acked[c] for c in centres]]):
            if count == 0 or top - acked[centre] == count:
                moved[centre] = top or acked[centre]
            else:
                gaps.append(centre)
        if gaps:
            above: dict[str, list[int]] = {c: [] for c in gaps}
            for centre, seq in conn.execute(
                    "SELECT r.centre, r.seq FROM unnest(%s::text[], %s::bigint[]) AS c(id, acked) "
                    "JOIN records r ON r.centre = c.id AND r.seq > c.acked ORDER BY 1, 2",
                    [gaps, [acked[c] for c in gaps]]):
                above[centre].append(seq)
            moved.update({c: advance(acked[c], above[c]) for c in gaps})
        changed = [(c, a) for c, a in moved.items() if a > acked[c]]
        if changed:
            conn.execute("UPDATE centres SET acked = v.acked, acked_at = now() "
                         "FROM unnest(%s::text[], %s::bigint[]) AS v(id, acked) "
                         "WHERE centres.id = v.id AND centres.acked < v.acked",
                         [[c for c, _ in changed], [a for _, a in changed]])
        return moved

    def set_link(self, centre: str, up: bool) -> None:
        self.open()
        with self.conn.transaction():
            self.conn.execute("INSERT INTO centres (id, link, link_at) VALUES (%s, %s, now()) "
                              "ON CONFLICT (id) DO UPDATE SET link = excluded.link, link_at = excluded.link_at",
                              [centre, up])

    def acked(self, centre: str) -> int:
        self.open()
        with self.conn.transaction():
            row = self.conn.execute("SELECT acked FROM centres WHERE id = %s", [centre]).fetchone()
        return row[0] if row else 0
