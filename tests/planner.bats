#!/usr/bin/env bats
# The planner on its own: every start-up refusal exits with its code
# (common/log.h: 2 usage, 3 permanent, 4 temporary) and one clear line;
# --keygen's failures; an empty request finishes at once with its report;
# a follower stopped by SIGTERM after its backfill exits 0 with its report;
# on a terminal log lines and the progress line never share a line; the
# rate shown never exceeds the budget; plurals; a delisted market.

load pipeline_helpers

P="$ROOT/planner/cp-planner"

setup() {
	T="$BATS_TEST_TMPDIR"
	RUN=(--db "$T/x.db" --work "ipc://$T/work" --market KRW-BTC --timeframe 1d)
}

teardown() {
	[ -z "${PID:-}" ] || kill "$PID" 2>/dev/null || true
	[ -z "${STUB_PID:-}" ] || kill "$STUB_PID" 2>/dev/null || true
	stop_all_sims
}

@test "bad ranges and lists exit 2 naming the culprit" {
	run "$P" --validate --market KRW-BTC --timeframe 1m --from 2026-01-01 --to yesterday
	[ "$status" -eq 2 ]; [[ "$output" == *"bad --to 'yesterday' (want ISO 8601"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --from 1st-of-may
	[ "$status" -eq 2 ]; [[ "$output" == *"bad --from '1st-of-may'"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --from 2026-02-01 --to 2026-01-01
	[ "$status" -eq 2 ]; [[ "$output" == *"--from must be earlier than --to"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m,2m --count 5
	[ "$status" -eq 2 ]; [[ "$output" == *"unknown timeframe '2m'"* ]]
	run "$P" --validate --market KRW-BTC,KRW-toolong-and-lowercase --timeframe 1m --count 5
	[ "$status" -eq 2 ]; [[ "$output" == *"bad market code 'KRW-toolong-and-lowercase'"* ]]
	run "$P" --validate --timeframe 1m --count 5
	[ "$status" -eq 2 ]; [[ "$output" == *"--market and --timeframe are required"* ]]
	run "$P" --market KRW-BTC --timeframe 1m --count 5
	[ "$status" -eq 2 ]; [[ "$output" == *"--db and --work are required"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --count 5 --from 2026-01-01
	[ "$status" -eq 2 ]; [[ "$output" == *"--count cannot be combined with --from"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m
	[ "$status" -eq 2 ]; [[ "$output" == *"give --from (with or without --to) or --count"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --count 5 extra
	[ "$status" -eq 2 ]; [[ "$output" == *"unexpected argument 'extra'"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --count 5 --follow-delay-ms -1
	[ "$status" -eq 2 ]; [[ "$output" == *"--follow-delay-ms must be a whole number from 0 to 86400000, not '-1'"* ]]
	run "$P" --validate --market KRW-BTC --timeframe 1m --count 5 --rate fast
	[ "$status" -eq 2 ]; [[ "$output" == *"--rate must be a number from 0 to 10000, not 'fast'"* ]]
	# accepted: a --to in the future (clipped to now), a --count reaching
	# back before 1970 (clipped to 1970), -v
	run "$P" --validate --market KRW-BTC --timeframe 1m --from 2026-01-01 --to 2999-01-01
	[ "$status" -eq 0 ]
	run "$P" --validate -v --market KRW-BTC --timeframe 1y --count 100000000 --follow-delay-ms 5
	[ "$status" -eq 0 ]
}

@test "a database, socket or CURVE problem at start-up exits 4 or 3 with its cause" {
	# not a database, another program's, a directory: permanent, like the writer
	echo "not sqlite" >"$T/x.db"
	run "$P" "${RUN[@]}" --count 3 --quiet
	[ "$status" -eq 3 ]; [[ "$output" == *"$T/x.db: file is not a database"* ]]
	[[ "$output" == *"cannot use $T/x.db"* ]]
	rm "$T/x.db"; sqlite3 "$T/x.db" "CREATE TABLE t(x)"
	run "$P" "${RUN[@]}" --count 3 --quiet
	[ "$status" -eq 3 ]; [[ "$output" == *"$T/x.db is not a candlepipe database (user_version 0, tables: t)"* ]]
	rm "$T/x.db"; mkdir "$T/x.db"
	run "$P" "${RUN[@]}" --count 3 --quiet
	[ "$status" -eq 3 ]; [[ "$output" == *"$T/x.db is not a regular file"* ]]
	rmdir "$T/x.db"
	run "$P" --db "$T/x.db" --work "ipc://$T/no/such/dir" --market KRW-BTC --timeframe 1d --count 3
	[ "$status" -eq 4 ]; [[ "$output" == *"cannot bind ipc://$T/no/such/dir"* ]]
	run "$P" "${RUN[@]}" --count 3 --events "ipc://$T/events" --monitor "ipc://$T/no/such/dir"
	[ "$status" -eq 4 ]; [[ "$output" == *"cannot bind the event hub"* ]]
	"$P" --keygen "$T/server.key"
	run "$P" "${RUN[@]}" --count 3 --curve-server "$T/server.key"
	[ "$status" -eq 3 ]; [[ "$output" == *"CURVE needs a usable --curve-allow file"* ]]
	# nothing was created on the way
	[ ! -e "$T/x.db" ]
}

@test "--keygen never overwrites a key and says why it could not write one" {
	run "$P" --keygen "$T/k"
	[ "$status" -eq 0 ]
	grep -q '^secret=' "$T/k"; grep -q '^public=' "$T/k.pub"
	[ "$(stat -c %a "$T/k")" = 600 ]
	cp "$T/k" "$T/k.before"
	run "$P" --keygen "$T/k"
	[ "$status" -eq 3 ]; [[ "$output" == *"cannot write $T/k: File exists"* ]]
	cmp "$T/k" "$T/k.before"
	# a full disk: the key would be cut short; nothing is left behind
	run bash -c "trap '' XFSZ; ulimit -f 0; '$P' --keygen '$T/full'"
	[ "$status" -eq 3 ]; [[ "$output" == *"cannot write $T/full: File too large"* ]]
	[ ! -e "$T/full" ]
	[ -z "$(ls "$T" | grep '\.tmp$')" ]
}

@test "--keygen writes regular files only: a directory or device is refused before any key is written" {
	mkdir "$T/d.pub" "$T/dir"
	run "$P" --keygen "$T/d"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "cp-planner: --keygen $T/d.pub: not a regular file (a directory)" ]
	[ "${lines[1]}" = "try 'cp-planner --help'" ]
	[ ! -e "$T/d" ]
	run "$P" --keygen "$T/dir"
	[ "$status" -eq 2 ]; [[ "$output" == *"--keygen $T/dir: not a regular file (a directory)"* ]]
	[ -z "$(ls -A "$T/dir")" ]
	ln -s /dev/full "$T/f.pub"
	run "$P" --keygen "$T/f"
	[ "$status" -eq 2 ]; [[ "$output" == *"--keygen $T/f.pub: not a regular file (a character device)"* ]]
	[ ! -e "$T/f" ]
	run "$P" --keygen /dev/null
	[ "$status" -eq 2 ]; [[ "$output" == *"--keygen /dev/null: not a regular file (a character device)"* ]]
	[ -c /dev/null ]
	# a symlink to a file: the public half goes to the file it points at
	: >"$T/elsewhere"
	ln -s elsewhere "$T/s.pub"
	run "$P" --keygen "$T/s"
	[ "$status" -eq 0 ]
	[ -L "$T/s.pub" ]
	[ "$(cat "$T/elsewhere")" = "$(grep '^public=' "$T/s")" ]
}

@test "a request with nothing to fetch finishes at once: progress, summary, exit 0" {
	run "$P" "${RUN[@]}" --from 2999-01-01
	[ "$status" -eq 0 ]
	[[ "$output" == *"collect: 100.0% 0/0 slots"* ]]
	[[ "$output" == *"summary: 1 range in "*"0 of 0 slots already covered"* ]]
	[[ "$output" != *"not covered"* ]]
}

@test "a follower stopped after its backfill exits 0 with the follow report" {
	"$P" "${RUN[@]}" --from 2999-01-01 --follow >"$T/out" 2>&1 &
	PID=$!
	wait_for grep -q "backfill done; following 1 target" "$T/out"
	sleep 2.3 # long enough for a periodic progress line (every 2 s off a tty)
	kill -TERM "$PID"
	local rc=0
	wait "$PID" || rc=$?
	PID=
	cat "$T/out"
	[ "$rc" -eq 0 ]
	grep -q "backfill done; following 1 target" "$T/out"
	[ "$(grep -c 'collect: 100.0% 0/0 slots' "$T/out")" -ge 2 ]
	grep -q "stopping on signal 15" "$T/out"
	grep -q "follow: 0 candles stored after their close" "$T/out"
}

@test "on a terminal a log line never shares a line with the live progress line" {
	start_sim --rate-limit 10
	local ts="$T/typescript"
	# --rate 30 against a limit of 10: 429 warnings while progress is shown
	script -qfec "$ROOT/run.sh collect --market KRW-BTC --timeframe 1m --count 20000 --rate 30 \
		--db $T/p.db --api-url $SIM_URL --run-dir $T/run" "$ts" >/dev/null 2>&1 3>&- || true
	grep -aq "warn: 429 from source" "$ts"
	grep -aq "collect: " "$ts"
	# what a terminal shows of each line: the text after its last carriage return
	local shown
	shown=$(sed 's/.*\r//' "$ts")
	echo "$shown" | grep -a "warn: 429" | head -3
	! echo "$shown" | grep -aq "collect: .* warn: " || false
	# the request rate shown never exceeds the budget the planner was given
	! tr '\r' '\n' <"$ts" | grep -aE '\| (3[1-9]|[4-9][0-9]|[0-9]{3,})(\.[0-9])? req/s'
}

@test "a one-request run: n/a req/s, '1 request', '1 candle'" {
	start_sim --rate-limit 0
	run collect --market KRW-BTC --timeframe 1d --count 1 --db "$T/one.db"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"| 1 candle | "*"| n/a req/s |"* ]]
	[[ "$output" == *"1 candle received, 1 new, 1 request (1.0 candles/request), 0 retries"* ]]
}

# a proxy in front of the simulator: the first $1 candle requests for market
# $2 are answered, every later one gets Upbit's 404 for a delisted market
start_delisting_stub() {
	local pf="$T/stub.port"
	python3 "$ROOT/tests/http_stub.py" --upstream "$SIM_URL" --port-file "$pf" --status 404 \
		--body '{"error":{"name":404,"message":"Code not found"}}' --times -1 \
		--after "$1" --market "$2" 3>&- &
	STUB_PID=$!
	wait_for test -s "$pf"
	STUB_URL="http://127.0.0.1:$(<"$pf")"
}

@test "a market delisted during a backfill: its ranges reported once as delisted, the others done, exit 1" {
	start_sim --rate-limit 0
	start_delisting_stub 2 KRW-ZIL
	local from=2026-10-01T00:00:00 to=2026-10-02T00:00:00
	run "$ROOT/run.sh" collect --market KRW-BTC,KRW-ZIL --timeframe 1m,1h --from "$from" --to "$to" \
		--db "$T/d.db" --api-url "$STUB_URL" --run-dir "$T/run" --quiet 3>&-
	kill "$STUB_PID"; wait "$STUB_PID" 2>/dev/null || true
	STUB_PID=
	echo "$output"
	[ "$status" -eq 1 ]
	# one warning for the market, and the not-covered line names it
	[ "$(grep -c 'warn: KRW-ZIL: delisted (404 Code not found)' <<<"$output")" -eq 1 ]
	[[ "$output" == *"not covered: "*"KRW-ZIL 1m "*"(delisted (404 Code not found))"* ]]
	[[ "$(grep 'not covered' <<<"$output")" != *KRW-BTC* ]]
	# what was collected before stays; the other market is complete
	[ "$(sqlite3 "$T/d.db" "SELECT COUNT(*) FROM candles WHERE market='KRW-ZIL'")" -gt 0 ]
	diff <(truth KRW-BTC 1m "$from" "$to") <(db_dump "$T/d.db" KRW-BTC 1m "$from" "$to")
	diff <(truth KRW-BTC 1h "$from" "$to") <(db_dump "$T/d.db" KRW-BTC 1h "$from" "$to")
}

@test "a market delisted by the simulator during a backfill (--delist)" {
	"$SIM_BIN" --help 2>&1 | grep -q -- '--delist' || skip "upbit-sim has no --delist yet"
	# 3 s: the planner has had answers for KRW-ZIL (10 req/s shared by two
	# markets; 4 days need about 6 s), so it knows the market before the 404s
	start_sim --delist "KRW-ZIL@$(date -u -d @$(( $(date +%s) + 3 )) +%Y-%m-%dT%H:%M:%SZ)"
	local from=2026-09-01T00:00:00 to=2026-09-05T00:00:00
	run collect --market KRW-BTC,KRW-ZIL --timeframe 1m --from "$from" --to "$to" --db "$T/s.db" --quiet
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'warn: KRW-ZIL: delisted (404 Code not found)' <<<"$output")" -eq 1 ]
	[[ "$output" == *"not covered: KRW-ZIL 1m "*"(delisted (404 Code not found))"* ]]
	[ "$(sqlite3 "$T/s.db" "SELECT COUNT(*) FROM candles WHERE market='KRW-ZIL'")" -gt 0 ]
	diff <(truth KRW-BTC 1m "$from" "$to") <(db_dump "$T/s.db" KRW-BTC 1m "$from" "$to")
}

@test "--help and the README state the hedging rule the code uses" {
	local factor floor
	factor=$(sed -n 's/^#define PLAN_HEDGE_FACTOR \([0-9]*\).*/\1/p' "$ROOT/planner/plan.h")
	floor=$(sed -n 's/^#define PLAN_HEDGE_FLOOR_MS \([0-9]*\).*/\1/p' "$ROOT/planner/plan.h")
	[ "$factor/$floor" = "4/600" ]
	run "$P" --help
	[[ "$output" == *"$factor x the usual API time, at least $floor)"* ]]
	grep -q "after $factor x the usual answer time, at least 0.6 s" <(tr '\n' ' ' <"$ROOT/README.md" | tr -s ' ')
	# repeated 429s: the README's factor is the code's (spacing x1.5, rate x2/3)
	grep -q "widen(b, now_ms, repeated ? 1.5 : 1.1)" "$ROOT/planner/budget.c"
	grep -q "by 1.5 times (the rate to two thirds)" <(tr '\n' ' ' <"$ROOT/README.md" | tr -s ' ')
}
