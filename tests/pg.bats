#!/usr/bin/env bats
# tests/pg.bats: PostgreSQL as the database (issue 14), on a throwaway
# server this file starts (tests/pg_helpers.bash) and removes whatever
# happens. Skips, saying so in one line, without the server binaries.

load pg_helpers
load pipeline_helpers

setup_file() {
	pg_skip_unless
	pg_start cp
}

teardown_file() {
	pg_stop
}

@test "pgdb: the schema rule on real databases; a foreign candlepipe schema is refused and left unchanged" {
	CP_PG_ADMIN_URI=$PG_URI run "$ROOT/tests/unit/pgdb_test"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *SKIPPED* ]]
	[[ "$output" == *"[  PASSED  ] 8 test(s)."* ]]
}
