#!/usr/bin/env bats
# tcp endpoints with CURVE: encrypted, and only allowed client keys connect.

load pipeline_helpers

teardown() {
	[ -z "${PL:-}" ] || kill "$PL" 2>/dev/null || true
	[ -z "${F1:-}" ] || kill "$F1" 2>/dev/null || true
	[ -z "${F2:-}" ] || kill "$F2" 2>/dev/null || true
	stop_all_sims
}

# free_port N: a port P with P..P+N-1 free, bound later by the pipeline
# (--tcp binds 4). Below the kernel's ephemeral range, where no port 0 bind
# (another test's simulator) and no outgoing connection can take one of
# them meanwhile.
free_port() {
	local n=$1 lo hi p i
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	for p in $(shuf -i "10000-$((lo - n - 1))" -n 20); do
		for ((i = 0; i < n; i++)); do
			! (echo >"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null || continue 2
		done
		echo "$p"
		return 0
	done
	return 1
}

@test "a collection over tcp with CURVE keys equals the truth" {
	start_sim --rate-limit 0
	local port
	port=$(free_port 4)
	run collect --market KRW-ETH --timeframe 1h --from 2026-09-01T00:00:00 --to 2026-10-01T00:00:00 \
		--db "$BATS_TEST_TMPDIR/c.db" --rate 0 --quiet --tcp "127.0.0.1:$port" --curve "$BATS_TEST_TMPDIR/keys"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -e "$BATS_TEST_TMPDIR/keys/server.key.pub" ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/keys/server.key")" = 600 ]
	diff <(truth KRW-ETH 1h 2026-09-01T00:00:00 2026-10-01T00:00:00) \
		<(db_dump "$BATS_TEST_TMPDIR/c.db" KRW-ETH 1h 2026-09-01T00:00:00 2026-10-01T00:00:00)
}

@test "a client whose key is not allowed cannot join; an allowed one can" {
	local k="$BATS_TEST_TMPDIR/k" port
	mkdir -p "$k"
	"$ROOT/planner/cp-planner" --keygen "$k/server.key"
	"$ROOT/planner/cp-planner" --keygen "$k/good.key"
	"$ROOT/planner/cp-planner" --keygen "$k/rogue.key"
	port=$(free_port 2)
	"$ROOT/planner/cp-planner" --db "$BATS_TEST_TMPDIR/x.db" --market KRW-BTC --timeframe 1m --count 10 \
		--work "tcp://127.0.0.1:$port" --curve-server "$k/server.key" --curve-allow "$k/good.key.pub" \
		--quiet >"$BATS_TEST_TMPDIR/planner.out" 2>&1 3>&- &
	PL=$!
	"$ROOT/fetcher/cp-fetcher" --work "tcp://127.0.0.1:$port" --results "tcp://127.0.0.1:$((port + 1))" \
		--curve-server "$k/server.key.pub" --curve-client "$k/rogue.key" 2>/dev/null 3>&- &
	F1=$!
	wait_for grep -q "CURVE client refused" "$BATS_TEST_TMPDIR/planner.out"
	! grep -q "fetcher joined" "$BATS_TEST_TMPDIR/planner.out" || false
	"$ROOT/fetcher/cp-fetcher" --work "tcp://127.0.0.1:$port" --results "tcp://127.0.0.1:$((port + 1))" \
		--curve-server "$k/server.key.pub" --curve-client "$k/good.key" 2>/dev/null 3>&- &
	F2=$!
	wait_for grep -q "fetcher joined" "$BATS_TEST_TMPDIR/planner.out"
}
