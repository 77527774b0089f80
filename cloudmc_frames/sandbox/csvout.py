"""CSV answers (``format=csv`` usage summaries, ``Accept: text/csv`` raw usage).

``text/csv; charset=utf-8``, RFC 4180 quoting, CRLF line ends, a header row.  The body starts
with a UTF-8 byte-order mark (``EF BB BF``, as spreadsheet exports do) only when the server's
``csv_bom`` switch is on; a client should strip it either way.
"""
import csv
import io

from .routing import Response

BOM = b"\xef\xbb\xbf"


def response(app, header, rows):
    """A 200 CSV ``Response`` of ``header`` and ``rows``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    body = buffer.getvalue().encode("utf-8")
    return Response(200, raw=(BOM + body) if app.csv_bom else body, content_type="text/csv; charset=utf-8")
