/*
 * out.c: the output formats of candle rows: Upbit's JSON object (byte for
 * byte as the API serves it, from candles_exact's exact text), JSON array,
 * JSON lines, CSV with a header and an aligned table. Rows are written one
 * at a time to a stdio stream: nothing is held, so memory stays constant.
 * One thread writes each stream, so the hot path uses stdio's unlocked
 * calls (locking took ~15% of a csv export).
 */
#include <string.h>

#include "query.h"

const char query_columns_sql[] =
    "market, timeframe, candle_date_time_utc, candle_date_time_kst,"
    " opening_price, high_price, low_price, trade_price, timestamp,"
    " candle_acc_trade_price, candle_acc_trade_volume, unit,"
    " prev_closing_price, change_price, change_rate, converted_trade_price,"
    " first_day_of_period";

const char query_columns_pg[] = "market, timeframe, " QDB_PG_TIME(
    "candle_date_time_utc") ","
                            " " QDB_PG_TIME(
                                "candle_date_time_kst") ","
                                                        " opening_price, high_price, low_price, trade_price, timestamp,"
                                                        " candle_acc_trade_price, candle_acc_trade_volume, unit,"
                                                        " prev_closing_price, change_price, change_rate, converted_trade_price,"
                                                        " to_char(first_day_of_period, 'YYYY-MM-DD')";

static const char *const col_name[CC_COUNT] = {
	"market",
	"timeframe",
	"candle_date_time_utc",
	"candle_date_time_kst",
	"opening_price",
	"high_price",
	"low_price",
	"trade_price",
	"timestamp",
	"candle_acc_trade_price",
	"candle_acc_trade_volume",
	"unit",
	"prev_closing_price",
	"change_price",
	"change_rate",
	"converted_trade_price",
	"first_day_of_period",
};

/* Upbit's field order after the three leading strings; quoted = a string.
 * A NULL is left out: only the optional fields (unit and after) can be NULL,
 * the others are NOT NULL columns. */
static const struct {
	enum candle_col col;
	int quoted;
} json_fields[] = {
	{ CC_OPEN, 0 },       { CC_HIGH, 0 },         { CC_LOW, 0 },         { CC_CLOSE, 0 },
	{ CC_TIMESTAMP, 0 },  { CC_ACC_PRICE, 0 },    { CC_ACC_VOLUME, 0 },  { CC_UNIT, 0 },
	{ CC_PREV_CLOSE, 0 }, { CC_CHANGE_PRICE, 0 }, { CC_CHANGE_RATE, 0 }, { CC_CONVERTED, 0 },
	{ CC_FIRST_DAY, 1 },
};

/* The table shows these columns, in this order. */
static const struct {
	enum candle_col col;
	const char *title;
	int right; /* right-aligned (numbers) */
} table_cols[] = {
	{ CC_UTC, "time (UTC)", 0 },     { CC_OPEN, "open", 1 },
	{ CC_HIGH, "high", 1 },          { CC_LOW, "low", 1 },
	{ CC_CLOSE, "close", 1 },        { CC_ACC_VOLUME, "volume", 1 },
	{ CC_ACC_PRICE, "turnover", 1 },
};
#define TABLE_NCOLS (sizeof(table_cols) / sizeof(table_cols[0]))

void
out_row_from_cur(const struct qcur *c, struct candle_row *r)
{
	for (int i = 0; i < CC_COUNT; i++)
		r->col[i] = qcur_text(c, i);
}

void
out_json_string(FILE *f, const char *s)
{
	fputc_unlocked('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc_unlocked(c, f);
	}
	fputc_unlocked('"', f);
}

void
out_json_object(FILE *f, const struct candle_row *r)
{
	fputs_unlocked("{\"market\":", f);
	out_json_string(f, r->col[CC_MARKET] ? r->col[CC_MARKET] : "");
	fputs_unlocked(",\"candle_date_time_utc\":", f);
	out_json_string(f, r->col[CC_UTC] ? r->col[CC_UTC] : "");
	fputs_unlocked(",\"candle_date_time_kst\":", f);
	out_json_string(f, r->col[CC_KST] ? r->col[CC_KST] : "");
	for (size_t i = 0; i < sizeof(json_fields) / sizeof(json_fields[0]); i++) {
		const char *v = r->col[json_fields[i].col];

		if (v == NULL)
			continue;
		fputc_unlocked(',', f);
		fputc_unlocked('"', f);
		fputs_unlocked(col_name[json_fields[i].col], f);
		fputs_unlocked("\":", f);
		if (json_fields[i].quoted)
			out_json_string(f, v);
		else
			fputs_unlocked(v, f);
	}
	if (r->filled >= 0)
		fprintf(f, ",\"filled\":%d", r->filled);
	fputc_unlocked('}', f);
}

static void
csv_field(FILE *f, const char *s)
{
	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs_unlocked(s, f);
		return;
	}
	fputc_unlocked('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc_unlocked('"', f);
		fputc_unlocked(*s, f);
	}
	fputc_unlocked('"', f);
}

int
out_parse_format(const char *s, unsigned allowed, enum out_format *out)
{
	static const char *const names[] = { "table", "csv", "json", "jsonl" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0 && (allowed & (1u << i))) {
			*out = (enum out_format)i;
			return 0;
		}
	}
	return -1;
}

void
out_begin(struct row_out *o)
{
	switch (o->fmt) {
	case FMT_CSV:
		for (int i = 0; i < CC_COUNT; i++)
			fprintf(o->f, "%s%s", i ? "," : "", col_name[i]);
		fputs_unlocked(o->with_filled ? ",filled\n" : "\n", o->f);
		break;
	case FMT_TABLE:
		for (size_t i = 0; i < TABLE_NCOLS; i++) {
			int *w = &o->tw.w[table_cols[i].col];
			int tl = (int)strlen(table_cols[i].title);

			if (*w < tl)
				*w = tl;
			fprintf(o->f, "%s%*s", i ? "  " : "", table_cols[i].right ? *w : -*w,
			        table_cols[i].title);
		}
		fputs_unlocked(o->with_filled ? "  filled\n" : "\n", o->f);
		break;
	case FMT_JSON: fputc_unlocked('[', o->f); break;
	case FMT_JSONL: break;
	}
}

static void
csv_row(struct row_out *o, const struct candle_row *r)
{
	for (int i = 0; i < CC_COUNT; i++) {
		if (i)
			fputc_unlocked(',', o->f);
		csv_field(o->f, r->col[i]);
	}
	if (o->with_filled)
		fprintf(o->f, ",%d", r->filled);
	fputc_unlocked('\n', o->f);
}

static void
table_row(struct row_out *o, const struct candle_row *r)
{
	for (size_t i = 0; i < TABLE_NCOLS; i++) {
		const char *v = r->col[table_cols[i].col];
		int w = o->tw.w[table_cols[i].col];

		fprintf(o->f, "%s%*s", i ? "  " : "", table_cols[i].right ? w : -w, v ? v : "");
	}
	if (o->with_filled)
		fprintf(o->f, "  %6s", r->filled ? "filled" : "");
	fputc_unlocked('\n', o->f);
}

int
out_row(struct row_out *o, const struct candle_row *r)
{
	struct candle_row rr = *r;

	rr.filled = o->with_filled ? r->filled : -1;
	switch (o->fmt) {
	case FMT_CSV: csv_row(o, r); break;
	case FMT_TABLE: table_row(o, r); break;
	case FMT_JSON:
		fputs_unlocked(o->rows ? ",\n" : "\n", o->f);
		out_json_object(o->f, &rr);
		break;
	case FMT_JSONL:
		out_json_object(o->f, &rr);
		fputc_unlocked('\n', o->f);
		break;
	}
	o->rows++;
	return ferror(o->f) ? -1 : 0;
}

void
out_end(struct row_out *o)
{
	if (o->fmt == FMT_JSON)
		fputs_unlocked(o->rows ? "\n]\n" : "]\n", o->f);
}
