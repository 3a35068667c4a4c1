"""The province (issue 13): the hub that stores every centre's shipped records in
PostgreSQL, the provincial broker's configuration, the province board and the
province report. The centre's side of shipping is motcua.shipping. docs/province.md."""
