#!/usr/bin/env bash
# db_dump.sh DB MARKET TF [FROM TO]: the stored candles of (MARKET, TF)
# [with FROM <= start < TO] as Upbit JSON lines, oldest first, byte for byte
# like `upbit-sim truth` (the exact decimals of candles_exact).
set -eu
sqlite3 "$1" "SELECT '{\"market\":\"' || market || '\",\"candle_date_time_utc\":\"' ||
  candle_date_time_utc || '\",\"candle_date_time_kst\":\"' || candle_date_time_kst ||
  '\",\"opening_price\":' || opening_price || ',\"high_price\":' || high_price ||
  ',\"low_price\":' || low_price || ',\"trade_price\":' || trade_price ||
  ',\"timestamp\":' || timestamp || ',\"candle_acc_trade_price\":' ||
  candle_acc_trade_price || ',\"candle_acc_trade_volume\":' || candle_acc_trade_volume ||
  coalesce(',\"unit\":' || unit, '') ||
  coalesce(',\"prev_closing_price\":' || prev_closing_price, '') ||
  coalesce(',\"change_price\":' || change_price, '') ||
  coalesce(',\"change_rate\":' || change_rate, '') ||
  coalesce(',\"converted_trade_price\":' || converted_trade_price, '') ||
  coalesce(',\"first_day_of_period\":\"' || first_day_of_period || '\"', '') || '}'
  FROM candles_exact WHERE market = '$2' AND timeframe = '$3'
  AND candle_date_time_utc >= '${4:-0}' AND candle_date_time_utc < '${5:-9}'
  ORDER BY candle_date_time_utc"
