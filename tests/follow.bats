#!/usr/bin/env bats
# Follow mode, in simulated time (CP_CLOCK_OFFSET_MS, the test hook that the
# pipeline and the simulator both add to their wall clock): each run starts
# a few seconds before a close, so a 1m and a 1d candle close within
# seconds. Every new candle (1s, 1m, 1d) is stored within 3 s of its close;
# the candle still forming is never stored; SIGTERM stops cleanly with the
# lag figures; a delisted market is dropped with one warning.

load pipeline_helpers

teardown() {
	[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true
	stop_all_sims
}

q() { sqlite3 "$DB" "$1" 2>/dev/null || echo 0; }

# follow ARGS...: collect --follow in the background into $DB ($OUT: output)
follow() {
	DB="$BATS_TEST_TMPDIR/f.db" OUT="$BATS_TEST_TMPDIR/out"
	"$ROOT/run.sh" collect --follow --db "$DB" --api-url "$SIM_URL" \
		--run-dir "$BATS_TEST_TMPDIR/run" --quiet "$@" >"$OUT" 2>&1 3>&- &
	PID=$!
}

# stop_follow: SIGTERM, then the exit code must be 0 with the lag figures
stop_follow() {
	kill -TERM "$PID"
	local rc=0
	wait "$PID" || rc=$?
	PID=
	cat "$OUT"
	[ "$rc" -eq 0 ]
	grep -q "follow: .* lag median" "$OUT"
}

# never_forming TF OPEN: nothing stored for the candle of TF that opened at OPEN
never_forming() {
	[ "$(q "SELECT COUNT(*) FROM candles WHERE timeframe='$1' AND candle_date_time_utc >= '$(iso "$2")'")" -eq 0 ]
}

@test "1s and 1m in follow mode: each candle stored within 3 s of its close, never the open one" {
	clock_before 60 4
	start_sim --rate-limit 0
	follow --market KRW-BTC,KRW-ZIL --timeframe 1s,1m --count 10
	local t checked1s=0 checked1m=0
	# 3 s after the close the closed minute is there (dense market): checked
	# at the first moment 4 s after it
	minute_closed() {
		[ "$(q "SELECT COUNT(*) FROM candles WHERE market='KRW-BTC' AND timeframe='1m' AND candle_date_time_utc = '$(iso $((CLOSE - 60)))'")" -eq 1 ]
	}
	# until 4 s after the close, and at least 10 checks of the 1s coverage
	# (a loaded machine makes fewer in the same time)
	while t=$(sim_now); [ "$t" -lt $((CLOSE + 4)) ] || [ "$checked1s" -lt 10 ]; do
		# at every moment: nothing stored for the second or minute still open
		never_forming 1s "$t"
		never_forming 1m $((t / 60 * 60))
		# 1s: the coverage reaches every second that closed 3 s ago
		if [ "$t" -ge $((CLOSE - 2)) ]; then
			[[ ! "$(q "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-BTC' AND timeframe='1s'")" < "$(iso $((t - 3)))" ]]
			checked1s=$((checked1s + 1))
		fi
		[ "$t" -lt $((CLOSE + 4)) ] || [ "$checked1m" = 1 ] || { minute_closed; checked1m=1; }
		sleep 0.2
	done
	[ "$checked1m" = 1 ] || minute_closed
	stop_follow
	# the coverage ends at the last closed minute, the sparse market too
	[ "$(q "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-ZIL' AND timeframe='1m'")" = "$(iso "$CLOSE")" ]
	# and what was stored equals the truth
	local tf from to
	for tf in 1s 1m; do
		from=$(q "SELECT MIN(from_utc) FROM coverage WHERE market='KRW-BTC' AND timeframe='$tf'")
		to=$(q "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-BTC' AND timeframe='$tf'")
		diff <(truth KRW-BTC "$tf" "$from" "$to") <(db_dump "$DB" KRW-BTC "$tf" "$from" "$to")
	done
}

@test "1d in follow mode: the day is stored within 3 s of UTC midnight, never before" {
	clock_before 86400 3
	start_sim --rate-limit 0
	follow --market KRW-BTC --timeframe 1d --count 5
	local t
	while t=$(sim_now); [ "$t" -lt $((CLOSE + 3)) ]; do
		never_forming 1d $((t / 86400 * 86400))
		sleep 0.2
	done
	[ "$(q "SELECT COUNT(*) FROM candles WHERE timeframe='1d' AND candle_date_time_utc = '$(iso $((CLOSE - 86400)))'")" -eq 1 ]
	stop_follow
	grep -q "follow: 1 candle stored after its close" "$OUT"
	diff <(truth KRW-BTC 1d "$(iso $((CLOSE - 6 * 86400)))" "$(iso "$CLOSE")") \
		<(db_dump "$DB" KRW-BTC 1d "$(iso $((CLOSE - 6 * 86400)))" "$(iso "$CLOSE")")
}

@test "a market delisted while followed is dropped with one warning; the others carry on" {
	"$SIM_BIN" --help 2>&1 | grep -q -- '--delist' || skip "upbit-sim has no --delist yet"
	clock_before 60 4
	start_sim --rate-limit 0 --delist "KRW-ZIL@$(iso $((CLOSE - 2)))Z"
	follow --market KRW-BTC,KRW-ZIL --timeframe 1s --count 10
	while [ "$(sim_now)" -lt $((CLOSE + 2)) ]; do sleep 0.2; done
	[[ ! "$(q "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-BTC'")" < "$(iso "$CLOSE")" ]]
	stop_follow
	[ "$(grep -c 'KRW-ZIL.*delisted (404 Code not found)' "$OUT" | head -1)" -ge 1 ]
	[ "$(grep -c 'warn: KRW-ZIL.*delisted' "$OUT")" -eq 1 ]
	[ "$(q "SELECT COUNT(*) FROM candles WHERE market='KRW-ZIL'")" -gt 0 ]
}
