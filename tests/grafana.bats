#!/usr/bin/env bats
# deploy/grafana/candlepipe.json (issue 15): the dashboard is a valid Grafana
# model whose every panel queries the ${DS_PROMETHEUS} datasource, and every
# metric its PromQL names exists in a real /metrics: the monitor's
# (--prometheus) during a collection from the simulator, and cp-serve's on
# the same database. A misspelled name fails the check.

load pipeline_helpers
load serve_helpers
bats_require_minimum_version 1.5.0

DASH="$ROOT/deploy/grafana/candlepipe.json"

setup_file() {
	load pipeline_helpers
	load serve_helpers
	local d=$BATS_FILE_TMPDIR url to
	# latency and the rate limit make the run last a few seconds
	start_file_sim --rate-limit 10 --latency-ms 100
	"$ROOT/monitor/cp-monitor" --endpoint "ipc://$d/run/monitor.sock" \
		--prometheus 127.0.0.1:0 --port-file "$d/mport" --quiet 2>"$d/mon.err" 3>&- &
	echo $! >"$d/mon.pid"
	wait_for test -s "$d/mport" || return 1
	url="http://127.0.0.1:$(<"$d/mport")/metrics"
	"$ROOT/run.sh" collect --api-url "http://127.0.0.1:$(<"$d/sim.port")" \
		--run-dir "$d/run" --db "$d/g.db" --market KRW-BTC,KRW-ETH --timeframe 1m,3m \
		--count 2000 --quiet >"$d/collect.out" 2>&1 3>&- &
	local cpid=$!
	# the monitor has seen requests, every target and a source's budget
	wait_for sh -c "curl -sf '$url' >'$d/m.now' &&
		grep -q '^candlepipe_requests_total [1-9]' '$d/m.now' &&
		grep -q '^candlepipe_slots_total{market=\"KRW-ETH\",timeframe=\"3m\"}' '$d/m.now' &&
		grep -q '^candlepipe_source_allowed_requests_per_second{' '$d/m.now'" || return 1
	wait "$cpid" || { cat "$d/collect.out"; return 1; }
	curl -sf "$url" >"$d/monitor.metrics" || return 1
	start_serve "$d/g.db" || return 1
	to=$(date -u -d "@$(($(date +%s) / 60 * 60 - 600))" +%Y-%m-%dT%H:%M:%SZ)
	sv_get "/v1/candles/minutes/1?market=KRW-BTC&to=$to&count=5" >/dev/null
	sv_get "/v1/candles/minutes/1?market=KRW-XRP&to=$to&count=5" >/dev/null
	sv_get /nope >/dev/null
	sv_get /metrics | sed '$d' >"$d/serve.metrics"
}

teardown_file() {
	load sim_helpers
	load serve_helpers
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/mon.pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && grep -qa cp-monitor "/proc/$pid/cmdline" 2>/dev/null; then
		kill -TERM "$pid"
		wait_for sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid"
	fi
	stop_all_serves
	stop_all_sims
}

setup() {
	SCRAPES=("$BATS_FILE_TMPDIR/monitor.metrics" "$BATS_FILE_TMPDIR/serve.metrics")
}

# dash_exprs FILE: every PromQL expression of the dashboard, one a line, of
# the top-level panels and of the panels nested in (collapsed) rows
dash_exprs() {
	jq -r '[.panels[] | ., (.panels[]?)] | .[] | .targets[]? | .expr' "$1"
}

# promql_names: the metric names in the expressions on stdin, sorted: label
# matchers, range selectors, grouping clauses, function calls, numbers and
# keywords are not names. A histogram's series are named as Prometheus
# stores them (X_bucket, X_sum, X_count), so they are kept as written.
promql_names() {
	sed -E -e 's/"([^"\\]|\\.)*"//g' -e 's/\{[^}]*\}//g' -e 's/\[[^]]*\]//g' \
		-e 's/\b(by|without|on|ignoring|group_left|group_right)[[:space:]]*\([^)]*\)//g' \
		-e 's/[A-Za-z_:][A-Za-z0-9_:]*[[:space:]]*\(/(/g' |
		grep -oE '(^|[^A-Za-z0-9_:.$])[A-Za-z_:][A-Za-z0-9_:]*' |
		sed -E 's/^[^A-Za-z_:]//' |
		grep -viwE 'by|without|on|ignoring|group_left|group_right|bool|and|or|unless|offset|atan2|inf|nan' |
		sort -u
}

# scraped_names FILE...: the sample names of Prometheus text files
scraped_names() {
	cat "$@" | grep -v '^#' | sed -E 's/[{ ].*//' | grep . | sort -u
}

# dash_missing DASH: prints each metric DASH queries that no scrape has
# (exit 1 if any); a name is present only as a sample, not a # TYPE line
dash_missing() {
	local missing
	missing=$(comm -23 <(dash_exprs "$1" | promql_names) <(scraped_names "${SCRAPES[@]}"))
	[ -z "$missing" ] || { printf 'not in /metrics: %s\n' $missing; return 1; }
}

# hist_misused DASH: a _bucket/_sum/_count name whose family is not a
# histogram in the scrapes, or a histogram_quantile over anything but _bucket
hist_misused() {
	local n e bad=0
	for n in $(dash_exprs "$1" | promql_names | grep -E '_(bucket|sum|count)$'); do
		grep -qx "# TYPE ${n%_*} histogram" "${SCRAPES[@]}" ||
			{ echo "not a histogram's series: $n"; bad=1; }
	done
	while read -r e; do
		for n in $(promql_names <<<"$e"); do
			[[ "$n" == *_bucket ]] || { echo "histogram_quantile over $n: $e"; bad=1; }
		done
	done < <(dash_exprs "$1" | grep histogram_quantile)
	return "$bad"
}

@test "grafana: the dashboard is a valid model: schema 36+, a DS_PROMETHEUS input and variable, a datasource on every panel and target, unique ids" {
	jq -e . "$DASH" >/dev/null
	jq -e '.schemaVersion >= 36 and .title == "candlepipe" and (.uid | length > 0)' "$DASH"
	jq -e '[.__inputs[] | select(.name == "DS_PROMETHEUS" and .type == "datasource"
		and .pluginId == "prometheus")] | length == 1' "$DASH"
	jq -e '[.templating.list[] | select(.name == "DS_PROMETHEUS" and .type == "datasource"
		and .query == "prometheus")] | length == 1' "$DASH"
	# every panel, rows and what they hold included, and every target
	jq -e '[.panels[] | ., (.panels[]?)] | all(.datasource == {type: "prometheus", uid: "${DS_PROMETHEUS}"})' "$DASH"
	jq -e '[.panels[] | ., (.panels[]?) | .targets[]?] |
		length > 0 and all(.datasource.uid == "${DS_PROMETHEUS}" and (.expr | length > 0) and (.refId | length > 0))' "$DASH"
	# panels that are not rows all query something and have a place
	jq -e '[.panels[] | ., (.panels[]?) | select(.type != "row")] |
		all((.targets | length > 0) and (.gridPos | .w > 0 and .h > 0) and (.title | length > 0))' "$DASH"
	# unique ids, counted over the nested panels too; unique refIds per panel
	run jq -r '[.panels[] | ., (.panels[]?)] | .[].id' "$DASH"
	[ "$(sort <<<"$output" | uniq -d)" = "" ]
	[ "$(wc -l <<<"$output")" -ge 20 ]
	jq -e '[.panels[] | ., (.panels[]?) | [.targets[]?.refId] | length == (unique | length)] | all' "$DASH"
	# a collapsed row, so the nested panels are really looked at
	jq -e '[.panels[] | select(.type == "row" and .collapsed) | .panels[]] | length > 0' "$DASH"
	# no hard-wired datasource uid anywhere
	jq -e '[.. | objects | select(has("datasource")) | .datasource] |
		all(. == {type: "prometheus", uid: "${DS_PROMETHEUS}"})' "$DASH"
}

@test "grafana: metric names come out of functions, matchers, ranges, grouping and numbers" {
	run promql_names <<-'EOF'
		histogram_quantile(0.99, sum by (le, outcome) (rate(a_seconds_bucket{route!="me{}trics"}[$__rate_interval])))
		rate(b_sum[5m]) / rate(b_count[5m]) * 1e3 + Inf
		sum(c:rate5m) without (instance) > bool 0
		d_total{code="429"} or on (job) e2_gauge == 1 unless f offset 1h
	EOF
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' a_seconds_bucket b_count b_sum c:rate5m d_total e2_gauge f)" ]
	# the dashboard's own names: the nested ones and the budget included
	run promql_names < <(dash_exprs "$DASH")
	local n
	for n in candlepipe_candles_received_total candlepipe_requests_total \
		candlepipe_rate_limit_requests_per_second candlepipe_source_allowed_requests_per_second \
		candlepipe_http_responses_total candlepipe_retries_total candlepipe_slots_done \
		candlepipe_slots_total candlepipe_chunk_total_seconds_bucket candlepipe_events_total \
		cp_serve_requests_total cp_serve_request_duration_seconds_bucket; do
		grep -qx "$n" <<<"$output" || { echo "not queried: $n"; false; }
	done
	! grep -qE '^(rate|sum|histogram_quantile|increase|le|outcome|route|code)$' <<<"$output"
}

@test "grafana: every metric the dashboard queries is in the monitor's or cp-serve's /metrics" {
	# the scrapes are real: the run's figures and cp-serve's own counts
	grep -q '^candlepipe_slots_total{market="KRW-BTC",timeframe="1m"} 2000$' "${SCRAPES[0]}"
	grep -q '^candlepipe_chunk_total_seconds_count [1-9]' "${SCRAPES[0]}"
	grep -q '^cp_serve_requests_total{route="other",outcome="error"} [1-9]' "${SCRAPES[1]}"
	run dash_missing "$DASH"
	echo "$output"
	[ "$status" -eq 0 ]
	run hist_misused "$DASH"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "grafana: a misspelled name fails the check, in a top-level panel or nested in a row" {
	local bad="$BATS_TEST_TMPDIR/bad.json"
	# a top-level panel
	jq '.panels[1].targets[0].expr |= sub("candlepipe_candles_received_total"; "candlepipe_candle_received_total")' \
		"$DASH" >"$bad"
	run dash_missing "$bad"
	[ "$status" -eq 1 ]
	[ "$output" = "not in /metrics: candlepipe_candle_received_total" ]
	# a panel nested in the collapsed row
	jq '(.panels[] | select(.type == "row" and .collapsed) | .panels[0].targets[0].expr) |=
		sub("candlepipe_events_total"; "candlepipe_event_total")' "$DASH" >"$bad"
	run dash_missing "$bad"
	[ "$status" -eq 1 ]
	[ "$output" = "not in /metrics: candlepipe_event_total" ]
	# a cp-serve name
	jq '(.panels[] | .targets[]? | .expr) |= sub("cp_serve_requests_total"; "cp_serve_request_total")' \
		"$DASH" >"$bad"
	run dash_missing "$bad"
	[ "$status" -eq 1 ]
	[ "$output" = "not in /metrics: cp_serve_request_total" ]
	# a histogram's family name is no series: only its _bucket, _sum, _count are
	jq '(.panels[] | .targets[]? | .expr) |= sub("candlepipe_chunk_api_seconds_sum"; "candlepipe_chunk_api_seconds")' \
		"$DASH" >"$bad"
	run dash_missing "$bad"
	[ "$status" -eq 1 ]
	[ "$output" = "not in /metrics: candlepipe_chunk_api_seconds" ]
	# histogram_quantile over a counter, a _count of no histogram
	jq '(.panels[] | .targets[]? | .expr) |=
		sub("candlepipe_chunk_write_seconds_bucket"; "candlepipe_chunks_committed_total") |
		(.panels[] | .targets[]? | .expr) |= sub("candlepipe_chunk_api_seconds_count"; "candlepipe_requests_count")' \
		"$DASH" >"$bad"
	run hist_misused "$bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a histogram's series: candlepipe_requests_count"* ]]
	[[ "$output" == *"histogram_quantile over candlepipe_chunks_committed_total"* ]]
}
