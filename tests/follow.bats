#!/usr/bin/env bats
# Follow mode: backfill, then every new 1m candle stored within 3 s of its
# close; the candle still forming never stored; a clean stop on SIGTERM.

load pipeline_helpers

teardown() {
	[ -z "${PID:-}" ] || kill -TERM "$PID" 2>/dev/null || true
	stop_all_sims
}

@test "three minutes of 1m candles in follow mode, each stored within 3 s of its close" {
	start_sim --rate-limit 0
	local db="$BATS_TEST_TMPDIR/f.db" out="$BATS_TEST_TMPDIR/out"
	"$ROOT/run.sh" collect --market KRW-BTC,KRW-ZIL --timeframe 1m --count 10 --follow \
		--db "$db" --api-url "$SIM_URL" --run-dir "$BATS_TEST_TMPDIR/run" --quiet >"$out" 2>&1 3>&- &
	PID=$!
	local end=$(( $(date +%s) + 185 )) seen=0
	while [ "$(date +%s)" -lt "$end" ]; do
		# at every moment: nothing stored for the minute still open
		local open
		open=$(date -u +%Y-%m-%dT%H:%M:00)
		local n
		n=$(sqlite3 "$db" "SELECT COUNT(*) FROM candles WHERE candle_date_time_utc >= '$open'" 2>/dev/null || echo 0)
		[ "$n" -eq 0 ]
		# 3 s after each close the closed minute is there (dense market)
		local s=$(( 10#$(date -u +%S) ))
		if [ "$s" -ge 3 ] && [ "$s" -le 6 ]; then
			local prev
			prev=$(date -u -d "@$(( $(date +%s) - 60 ))" +%Y-%m-%dT%H:%M:00)
			[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM candles WHERE market='KRW-BTC' AND candle_date_time_utc = '$prev'")" -eq 1 ]
			seen=$((seen + 1))
			sleep 4
		fi
		sleep 0.5
	done
	[ "$seen" -ge 3 ]
	kill -TERM "$PID"
	wait "$PID"
	local rc=$?
	PID=
	cat "$out"
	[ "$rc" -eq 0 ]
	grep -q "follow: .* lag median" "$out"
	# the coverage ends at the last closed minute, the sparse one too
	local last
	last=$(sqlite3 "$db" "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-ZIL'")
	[[ "$last" > "$(date -u -d '@'$(( $(date +%s) - 130 )) +%Y-%m-%dT%H:%M:00)" ]]
	# and what was stored equals the truth
	local from to
	from=$(sqlite3 "$db" "SELECT MIN(from_utc) FROM coverage WHERE market='KRW-BTC'")
	to=$(sqlite3 "$db" "SELECT MAX(to_utc) FROM coverage WHERE market='KRW-BTC'")
	diff <(truth KRW-BTC 1m "$from" "$to") <(db_dump "$db" KRW-BTC 1m "$from" "$to")
}
