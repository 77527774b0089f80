"""Text (CSV) replies without sockets: parse_text, and the cache key of another format."""

import pytest
import requests

from cloudmc_frames._cache import make_key_fn
from cloudmc_frames._wire import parse_reply, parse_text
from cloudmc_frames.errors import PermissionDeniedError, ResponseFormatError

CSV = {"Content-Type": "text/csv; charset=utf-8"}


def text(status, body, headers=CSV):
    return parse_text(status, headers, body, method="GET", url="http://h/api/v2/service/usage",
                      accept="text/csv")


@pytest.mark.parametrize("body", [b"id,usage\r\na,1\r\n", b"\xef\xbb\xbfid,usage\r\na,1\r\n"],
                         ids=["plain", "byte-order-mark"])
def test_csv_text_without_its_byte_order_mark(body):
    assert text(200, body).text == "id,usage\r\na,1\r\n"


@pytest.mark.parametrize("status, body, headers, error, message", [
    (200, b'{"data": []}', {"Content-Type": "application/json"}, ResponseFormatError,
     "asked for text/csv but the server answered JSON"),
    (403, b'{"errors": [{"code": 1, "message": "no"}]}', {"Content-Type": "application/json"},
     PermissionDeniedError, "no"),
    (502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}, ResponseFormatError, "HTML"),
    (200, b"<html>login</html>", {"Content-Type": "text/html"}, ResponseFormatError, "HTML page"),
    (200, b"id\r\n\xff\xfe", CSV, ResponseFormatError, "not valid UTF-8 .byte 0xff at offset 4"),
])
def test_what_is_not_csv_is_a_typed_one_line_error(status, body, headers, error, message):
    with pytest.raises(error, match=message) as caught:
        text(status, body, headers)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("body", [b"\xef\xbb\xbfid,usage\r\na,1\r\n", b"id,usage\r\n"])
def test_csv_where_json_was_expected_says_so(body):
    with pytest.raises(ResponseFormatError, match=r"the reply is CSV \(.*\), not CloudMC JSON: id,usage"):
        parse_reply(200, CSV if not body.startswith(b"\xef") else {}, body, method="GET", url="u")


def test_a_reply_in_another_format_is_another_cache_entry():
    key = make_key_fn("f" * 32)
    url = "http://h/api/v2/service/usage?start_date=a"
    as_json = requests.Request("GET", url, headers={"Accept": "application/json"}).prepare()
    as_csv = requests.Request("GET", url, headers={"Accept": "text/csv"}).prepare()
    assert key(as_json) != key(as_csv)
    assert key(as_json) == key(requests.Request("GET", url).prepare())  # JSON keys are as before
