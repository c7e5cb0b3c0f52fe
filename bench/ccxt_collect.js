// The way ccxt users collect candles: a fetchOHLCV loop with ccxt's rate
// limiter on, advancing `since` past the last candle, into SQLite.
// usage: node ccxt_collect.js API_URL DB SYMBOL TF FROM TO
'use strict';
const ccxt = require('ccxt');
const Database = require('better-sqlite3');

async function main() {
	const [url, dbPath, symbol, tf, from, to] = process.argv.slice(2);
	const ex = new ccxt.upbit({ urls: { api: { public: url, private: url } } });
	const db = new Database(dbPath);
	db.exec('CREATE TABLE IF NOT EXISTS ohlcv (symbol TEXT, tf TEXT, ts INTEGER,' +
		' o REAL, h REAL, l REAL, c REAL, v REAL, PRIMARY KEY (symbol, tf, ts))');
	const ins = db.prepare('INSERT OR IGNORE INTO ohlcv VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
	const store = db.transaction((rows) => { for (const r of rows) ins.run(symbol, tf, ...r); });
	const step = ex.parseTimeframe(tf) * 1000;
	const end = Date.parse(to);
	let since = Date.parse(from), stored = 0, requests = 0;
	await ex.loadMarkets();
	const t0 = Date.now();
	while (since < end) {
		const rows = (await ex.fetchOHLCV(symbol, tf, since, 200)).filter((r) => r[0] < end);
		requests++;
		if (rows.length === 0) {
			since += 200 * step; // a window without trades
			continue;
		}
		store(rows);
		stored += rows.length;
		since = rows[rows.length - 1][0] + step;
	}
	const s = (Date.now() - t0) / 1000;
	console.log(JSON.stringify({ candles: stored, requests, seconds: s, cps: stored / s }));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
