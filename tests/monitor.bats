#!/usr/bin/env bats
# cp-monitor against a live pipeline on the simulator: JSON events and
# metrics, catching up after a restart, the Prometheus exposition, the
# terminal view under tmux, and the pattern of labelled collections.

load pipeline_helpers
bats_require_minimum_version 1.5.0

MON="$ROOT/monitor/cp-monitor"

setup_file() {
	load pipeline_helpers
	# latency and the rate limit make a run last several seconds
	start_file_sim --rate-limit 10 --latency-ms 100
}

teardown_file() {
	load sim_helpers
	stop_all_sims
}

setup() {
	use_file_sim
	DB="$BATS_TEST_TMPDIR/m.db"
	EP="ipc://$BATS_TEST_TMPDIR/run/monitor.sock"
	BG=()
}

teardown() {
	local p
	for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
	tmux kill-session -t "mon$$" 2>/dev/null || true
}

# bg_collect ARGS...: a collection in the background (pid in COLLECT_PID)
bg_collect() {
	collect --db "$DB" --quiet "$@" >"$BATS_TEST_TMPDIR/collect.out" 2>&1 3>&- &
	COLLECT_PID=$!
	BG+=("$COLLECT_PID")
}

progress_lines() { grep -c '"topic":"progress"' "$1" 2>/dev/null || true; }
# has_progress FILE N: at least N progress events in FILE
has_progress() { [ "$(progress_lines "$1")" -ge "$2" ]; }

@test "--help, and bad options exit 2" {
	run "$MON" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--prometheus"* ]]
	run "$MON" --bogus
	[ "$status" -eq 2 ]
	run "$MON" --endpoint
	[ "$status" -eq 2 ]
	run "$MON" --endpoint nonsense
	[ "$status" -eq 2 ]
	run "$MON" --prometheus nohost --quiet --endpoint ipc:///nonexistent
	[ "$status" -eq 2 ]
	run "$MON" extra
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument 'extra'"* ]]
	run "$MON" --db ""
	[ "$status" -eq 2 ]
	[[ "$output" == *"--db must not be empty"* ]]
	run "$MON" --port-file x --endpoint ipc:///nonexistent
	[ "$status" -eq 2 ]
	[[ "$output" == *"--port-file needs --prometheus"* ]]
	run "$MON" --prometheus 127.0.0.1:99999 --quiet --endpoint ipc:///nonexistent
	[ "$status" -eq 2 ]
	[[ "$output" == *"--prometheus wants ADDR:PORT (IPv4), not '127.0.0.1:99999'"* ]]
}

@test "--print-run-dir names the run directory the way run.sh always did" {
	local d="$BATS_TEST_TMPDIR" p want
	mkdir -p "$d/real"
	ln -s real "$d/link"
	# an existing file, a missing one behind a symlink, "..", a relative path
	touch "$d/real/x.db"
	for p in "$d/real/x.db" "$d/link/new/../y.db" "$d//link/./z.db" rel/none.db /../nope/a.db; do
		want="/tmp/cp-$(printf '%s' "$(realpath -m "$p")" | sha1sum | cut -c1-12)"
		run "$MON" --print-run-dir --db "$p"
		[ "$status" -eq 0 ]
		[ "$output" = "$want" ]
	done
	# the default database
	want="/tmp/cp-$(printf '%s' "$(realpath -m data/candles.db)" | sha1sum | cut -c1-12)"
	run "$MON" --print-run-dir
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	# a path with no absolute name: a usage error, nothing on stdout
	run --separate-stderr "$MON" --print-run-dir --db "/$(printf 'x%.0s' $(seq 5000))"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	[[ "$stderr" == *"cannot make it absolute"* ]]
	"$MON" --help | grep -q -- "--print-run-dir"
}

@test "--db finds the hub through the run directory run.sh keeps" {
	local db="$BATS_TEST_TMPDIR/sub/../c.db" abs hash dir
	abs="$BATS_TEST_TMPDIR/c.db"
	hash=$(printf '%s' "$(realpath -m "$abs")" | sha1sum | cut -c1-12)
	dir="/tmp/cp-$hash"
	mkdir -p "$dir"
	printf '%s\n' "$EP" >"$dir/monitor.endpoint"
	"$MON" --db "$db" --quiet -v 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	BG+=("$!")
	wait_for grep -q "attached to $EP" "$BATS_TEST_TMPDIR/err"
	grep -qF "hub endpoint $EP (from $dir/monitor.endpoint)" "$BATS_TEST_TMPDIR/err"
	kill -TERM "${BG[0]}"
	wait "${BG[0]}" # leaves with 0 on SIGTERM
	# a run directory that is not a directory: a permanent failure
	rm -rf "$dir"
	touch "$dir"
	run timeout 10 "$MON" --db "$db" --quiet
	rm -f "$dir"
	[ "$status" -eq 3 ]
	[[ "$output" == *"$dir/monitor.endpoint: Not a directory"* ]]
}

@test "--prometheus on a port in use exits 3; an unwritable --port-file is only a warning" {
	"$MON" --endpoint "$EP" --prometheus 127.0.0.1:0 --port-file "$BATS_TEST_TMPDIR/p1" \
		--quiet 2>/dev/null 3>&- &
	BG+=("$!")
	wait_for test -s "$BATS_TEST_TMPDIR/p1"
	run "$MON" --endpoint "$EP" --prometheus "127.0.0.1:$(<"$BATS_TEST_TMPDIR/p1")" --quiet
	[ "$status" -eq 3 ]
	[[ "$output" == *"prometheus: cannot listen on 127.0.0.1:"* ]]
	"$MON" --endpoint "$EP" --prometheus ':0' --port-file "$BATS_TEST_TMPDIR/no/dir/p" \
		--quiet 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	BG+=("$!")
	wait_for grep -q "cannot write $BATS_TEST_TMPDIR/no/dir/p" "$BATS_TEST_TMPDIR/err"
	wait_for grep -q "serving http://0.0.0.0:" "$BATS_TEST_TMPDIR/err"
	kill -0 "${BG[1]}"
}

@test "--port-file writes regular files only: a device, FIFO or directory is exit 2, a symlink leads to its file" {
	local t="$BATS_TEST_TMPDIR" p
	mkfifo "$t/fifo"
	mkdir "$t/dir"
	for p in /dev/full "$t/fifo" "$t/dir"; do
		run --separate-stderr timeout 10 "$MON" --endpoint "$EP" --prometheus 127.0.0.1:0 --port-file "$p" --quiet
		[ "$status" -eq 2 ]
		[[ "$stderr" == "cp-monitor: --port-file $p: not a regular file (a "*")"$'\n'"try 'cp-monitor --help'" ]]
	done
	[ -c /dev/full ] && [ -p "$t/fifo" ] && [ -d "$t/dir" ]
	# under run.sh the help named is run.sh's
	run --separate-stderr "$ROOT/run.sh" monitor --endpoint "$EP" --prometheus 127.0.0.1:0 --port-file /dev/full --quiet
	[ "$status" -eq 2 ]
	[[ "$stderr" == *$'\n'"try './run.sh monitor --help'" ]]
	# a symlink: the port goes to the file it points at, the link stays
	: >"$t/real"
	ln -s real "$t/link"
	"$MON" --endpoint "$EP" --prometheus 127.0.0.1:0 --port-file "$t/link" --quiet 2>/dev/null 3>&- &
	BG+=("$!")
	wait_for test -s "$t/real"
	[ -L "$t/link" ]
	grep -Eq '^[0-9]+$' "$t/real"
	[ -z "$(ls "$t" | grep '\.tmp$')" ]
}

@test "without an endpoint file it waits for one and says so" {
	"$MON" --db "$BATS_TEST_TMPDIR/none.db" --json >"$BATS_TEST_TMPDIR/out" \
		2>"$BATS_TEST_TMPDIR/err" 3>&- &
	BG+=("$!")
	wait_for grep -q "waiting for /tmp/cp-" "$BATS_TEST_TMPDIR/err"
	kill -TERM "${BG[0]}"
	wait "${BG[0]}"
}

@test "a monitor started after the pipeline shows its progress and chunk metrics" {
	bg_collect --market KRW-BTC,KRW-ETH --timeframe 1m --count 6000
	wait_for test -S "$BATS_TEST_TMPDIR/run/monitor.sock"
	sleep 1
	timeout 120 "$MON" --endpoint "$EP" --json --exit-on-finish \
		>"$BATS_TEST_TMPDIR/mon.json" 2>"$BATS_TEST_TMPDIR/mon.err" 3>&-
	wait "$COLLECT_PID"
	local j="$BATS_TEST_TMPDIR/mon.json"
	# every line is one JSON object
	jq -e . "$j" >/dev/null
	[ "$(progress_lines "$j")" -ge 2 ]
	grep -q '"topic":"leased"' "$j"
	# committed events carry every ChunkPerformanceMetrics field
	jq -e -s '[.[] | select(.topic == "committed")] | length > 0' "$j"
	jq -e -s '[.[] | select(.topic == "committed") | .metrics |
		has("queue_ms") and has("rate_wait_ms") and has("api_ms") and has("parse_ms")
		and has("write_ms") and has("total_ms") and has("bytes") and has("requested")
		and has("received") and has("new") and has("from_coverage")
		and has("overlap_analysis_ms")] | all' "$j"
	jq -e -s '[.[] | select(.topic == "committed") | .metrics.api_ms >= 90] | all' "$j"
	# the phases come from the leased, fetched and committed events, joined:
	# known for the chunks leased after the monitor attached
	jq -e -s '[.[] | select(.topic == "committed") | .metrics |
		select(.queue_ms != null and .rate_wait_ms != null and .parse_ms != null
		and .write_ms != null and .total_ms >= .api_ms)] | length > 0' "$j"
	jq -e -s '[.[] | select(.topic == "leased")] | all(has("planned_ms") and has("leased_ms"))' "$j"
	jq -e -s '[.[] | select(.topic == "fetched")] | length > 0 and
		all(.parsed_ms >= .answered_ms and .answered_ms >= .sent_ms)' "$j"
	# and not from the work messages: the ChunkInfo has no timing but api_ms
	! grep -q '"t_committed"\|"t_leased"' "$j" || false
	# the last summary says the run finished, fully covered
	jq -e -s '[.[] | select(.topic == "summary")] | last |
		.finished and .slots_done == .slots_total and .pattern.type != null
		and .prediction.available' "$j"
}

@test "a monitor killed and started again catches up" {
	bg_collect --market KRW-BTC,KRW-ETH --timeframe 1m --count 8000
	"$MON" --endpoint "$EP" --json >"$BATS_TEST_TMPDIR/m1.json" 2>/dev/null 3>&- &
	local m1=$!
	BG+=("$m1")
	wait_for has_progress "$BATS_TEST_TMPDIR/m1.json" 3
	kill -KILL "$m1"
	timeout 120 "$MON" --endpoint "$EP" --json --exit-on-finish \
		>"$BATS_TEST_TMPDIR/m2.json" 2>/dev/null 3>&-
	wait "$COLLECT_PID"
	# the first progress the new monitor sees already counts earlier requests
	jq -e -s '[.[] | select(.topic == "progress")] | first | .requests > 0' \
		"$BATS_TEST_TMPDIR/m2.json"
	jq -e -s '[.[] | select(.topic == "summary")] | last |
		.finished and .slots_done == .slots_total and .requests > 0' \
		"$BATS_TEST_TMPDIR/m2.json"
}

# prom_check FILE: every sample line is `name{labels} value`, every metric
# has HELP and TYPE lines before its samples
prom_check() {
	awk '
	/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { help[$3] = 1; next }
	/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/ {
		type[$3] = $4; next }
	/^#/ { print "bad comment: " $0; bad = 1; next }
	/^$/ { next }
	{
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|Inf)$/) {
			print "bad sample: " $0; bad = 1; next }
		name = $0; sub(/[{ ].*/, "", name)
		base = name
		if (!(base in type)) sub(/_(bucket|sum|count)$/, "", base)
		if (!(base in help) || !(base in type)) { print "no HELP/TYPE: " name; bad = 1 }
		n++
	}
	END { if (n == 0) { print "no samples"; bad = 1 } exit bad }' "$1"
}

@test "/metrics is valid Prometheus text with the pipeline's figures" {
	bg_collect --market KRW-BTC --timeframe 1m --count 6000
	"$MON" --endpoint "$EP" --prometheus 127.0.0.1:0 --port-file "$BATS_TEST_TMPDIR/mport" \
		--quiet 2>"$BATS_TEST_TMPDIR/mon.err" 3>&- &
	BG+=("$!")
	wait_for test -s "$BATS_TEST_TMPDIR/mport"
	local url="http://127.0.0.1:$(<"$BATS_TEST_TMPDIR/mport")/metrics"
	wait_for sh -c "curl -sf '$url' | grep -q '^candlepipe_requests_total [1-9]'"
	sleep 1.5
	curl -sf "$url" >"$BATS_TEST_TMPDIR/metrics"
	prom_check "$BATS_TEST_TMPDIR/metrics"
	local m
	for m in candlepipe_candles_received_total candlepipe_requests_total \
		candlepipe_retries_total 'candlepipe_http_responses_total{code="429"}' \
		'candlepipe_slots_total{market="KRW-BTC",timeframe="1m"}' \
		'candlepipe_slots_done{market="KRW-BTC",timeframe="1m"}' \
		'candlepipe_chunk_api_seconds_bucket{le="+Inf"}' candlepipe_chunk_api_seconds_sum \
		candlepipe_chunk_api_seconds_count candlepipe_chunk_write_seconds_count \
		candlepipe_chunk_total_seconds_count candlepipe_predicted_remaining_seconds; do
		grep -qF "$m " "$BATS_TEST_TMPDIR/metrics" || { echo "missing $m"; false; }
	done
	grep -q '^candlepipe_slots_total{market="KRW-BTC",timeframe="1m"} 6000$' \
		"$BATS_TEST_TMPDIR/metrics"
	curl -s -o /dev/null -w '%{http_code}' "${url%/metrics}/nope" | grep -q 404
	wait "$COLLECT_PID"
}

@test "the terminal view draws a bar per market and timeframe (tmux)" {
	bg_collect --market KRW-BTC,KRW-XRP --timeframe 1m,3m --count 4000
	tmux new-session -d -s "mon$$" -x 150 -y 45 "$MON --endpoint $EP 2>/dev/null"
	local pane="$BATS_TEST_TMPDIR/pane"
	wait_for sh -c "tmux capture-pane -p -t mon$$ >'$pane'; grep -q 'KRW-XRP *3m *\[#' '$pane'"
	cat "$pane"
	grep -q 'KRW-BTC *1m *\[' "$pane"
	grep -q 'KRW-BTC *3m *\[' "$pane"
	grep -q 'KRW-XRP *1m *\[' "$pane"
	grep -q 'requests/s of' "$pane"
	grep -q '429: ' "$pane"
	grep -q 'candles/request' "$pane"
	grep -q 'coverage hit ratio' "$pane"
	wait "$COLLECT_PID"
	# after the run: the final summary, still attached
	wait_for sh -c "tmux capture-pane -p -t mon$$ >'$pane'; grep -q finished '$pane'"
	grep -q 'waiting for the next run' "$pane"
	tmux has-session -t "mon$$"
}

@test "the terminal view fits a narrow window and never wraps (tmux)" {
	bg_collect --market KRW-BTC,KRW-XRP --timeframe 1m --count 3000
	tmux new-session -d -s "mon$$" -x 50 -y 40 "$MON --endpoint $EP 2>/dev/null"
	local pane="$BATS_TEST_TMPDIR/pane"
	wait_for sh -c "tmux capture-pane -p -J -t mon$$ >'$pane'; grep -q 'requests/s' '$pane'"
	cat "$pane"
	# -J joins wrapped lines: none may be longer than the window
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$pane")" -le 50 ]
	grep -q '^ throughput' "$pane"
	grep -q '^  KRW-BTC *1m' "$pane"
	wait "$COLLECT_PID"
	wait_for sh -c "tmux capture-pane -p -J -t mon$$ >'$pane'; grep -q finished '$pane'"
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$pane")" -le 50 ]
}

# pattern_of MARKETS TF COUNT [collect options]: the pattern of a whole run
pattern_of() {
	local markets=$1 tf=$2 count=$3; shift 3
	rm -rf "$BATS_TEST_TMPDIR/run" "$DB"
	bg_collect --market "$markets" --timeframe "$tf" --count "$count" "$@"
	wait_for test -S "$BATS_TEST_TMPDIR/run/monitor.sock"
	timeout 120 "$MON" --endpoint "$EP" --json --exit-on-finish 2>/dev/null 3>&- |
		jq -r 'select(.topic == "summary" and .finished) | .pattern.type' | tail -n 1
	wait "$COLLECT_PID"
}

@test "pattern: labelled scenarios on the simulator are classified >= 90% right" {
	local right=0 total=0 got want
	while read -r want markets tf count opts; do
		got=$(pattern_of "$markets" "$tf" "$count" $opts)
		echo "# $want: $markets $tf $count $opts -> $got" >&3
		total=$((total + 1))
		[ "$got" = "$want" ] && right=$((right + 1))
	done <<-'EOF2'
	sequential KRW-BTC 1m 6000
	sequential KRW-ETH 3m 5000 --fetchers 1
	dense KRW-BTC,KRW-ETH 1m 3000
	sparse KRW-GRS 1m 5000
	dense KRW-BTC,KRW-ETH,KRW-XRP 1m 3000
	sparse KRW-MED,KRW-GRS 1m 6000
	mixed KRW-BTC,KRW-MED 1m 4000
	EOF2
	echo "# $right of $total right" >&3
	[ $((right * 10)) -ge $((total * 9)) ]
}
