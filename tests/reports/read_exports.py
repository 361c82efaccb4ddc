"""Reads a report's CSV with Python's csv module and its XLSX with openpyxl,
as a spreadsheet user's tools would, and prints what they hold as JSON:
{"bom": bool, "csv": [[cell, ...], ...],
 "xlsx": {sheet: [[{"type": ..., "value": ...}, ...], ...]}}.

Usage: read_exports.py REPORT.csv REPORT.xlsx
"""

import csv
import datetime
import io
import json
import sys

import openpyxl


def cell(value):
    if isinstance(value, datetime.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    return {"type": type(value).__name__, "value": value}


def main(csv_path, xlsx_path):
    raw = open(csv_path, "rb").read()
    out = {"bom": raw.startswith(b"\xef\xbb\xbf")}
    out["csv"] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    book = openpyxl.load_workbook(xlsx_path)
    out["xlsx"] = {
        ws.title: [[cell(c.value) for c in row] for row in ws.iter_rows()]
        for ws in book.worksheets
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
