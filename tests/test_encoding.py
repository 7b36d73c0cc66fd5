"""The page decoder, tried with labels that lie: properties over generated text (Hypothesis)."""

from __future__ import annotations

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from scraper.extraction.encoding import decode_bytes, decode_html

SETTINGS = settings(max_examples=300, deadline=None)
LABELS = st.sampled_from([None, "", "utf-8", "UTF-8", "utf-16", "utf-16le", "utf-32", "windows-1251", "cp1251",
                          "koi8-r", "iso-8859-1", "latin1", "shift_jis", "base64", "rot13", "x-nonsense",
                          "'utf-8'", "utf8mb4", "unicode-1-1-utf-7"])
CYRILLIC = st.text(alphabet=st.characters(min_codepoint=0x0410, max_codepoint=0x044F) | st.sampled_from(" .,ё"),
                   min_size=20, max_size=400)
# Text as it comes in pages: any script, no lone surrogates (they cannot be encoded at all).
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300)


def page(text: str) -> str:
    return f"<html><head><title>t</title></head><body><p>{text}</p></body></html>"


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@SETTINGS
@given(TEXT, LABELS, LABELS)
@example("Тоқаев сказал", "utf-16", None)
@example("Назарбаев", None, "utf-16")
def test_utf8_text_comes_back_whatever_the_labels_say(text, header, meta):
    html = page(text)
    assume(not html.isascii())
    decoded, encoding = decode_html(html.encode("utf-8"), [header, meta])
    assert decoded == html and encoding == "utf-8"


@SETTINGS
@given(CYRILLIC, st.sampled_from(["cp1251", "koi8_r", "iso8859_5"]))
def test_a_true_single_byte_label_is_used(text, charset):
    body = page(text).encode(charset)
    assume(not is_utf8(body))  # bytes that happen to be valid UTF-8 are read as UTF-8, by design
    decoded, _ = decode_html(body, [charset, None])
    assert decoded == page(text)


@SETTINGS
@given(CYRILLIC)
def test_a_cp1251_page_labelled_utf8_is_detected_not_mangled(text):
    body = page(text * 3).encode("cp1251")
    assume(not is_utf8(body))
    decoded, encoding = decode_html(body, ["utf-8", "utf-8"])
    assert "\ufffd" not in decoded and encoding != "utf-8"


@SETTINGS
@given(st.binary(max_size=2000), LABELS, LABELS)
def test_any_bytes_and_any_labels_decode_to_text_without_raising(body, header, meta):
    decoded, encoding = decode_html(body, [header, meta])
    assert isinstance(decoded, str) and isinstance(encoding, str)
    decoded, encoding = decode_bytes(body, header)
    assert isinstance(decoded, str) and isinstance(encoding, str)


@SETTINGS
@given(TEXT, st.sampled_from(["utf-16-le", "utf-16-be", "utf-16"]))
def test_real_utf16_is_still_read_as_utf16(text, charset):
    html = page(text)
    decoded, _ = decode_html(html.encode(charset), [charset.replace("-le", "le").replace("-be", "be"), None])
    assert decoded.lstrip("\ufeff") == html


def test_a_stored_page_recorded_with_a_wrong_charset_is_read_right_again():
    body = page("Казахстан и Россия").encode("utf-8")
    assert decode_bytes(body, "utf-16") == (page("Казахстан и Россия"), "utf-8")
    cp = page("Казахстан и Россия" * 5).encode("cp1251")
    assert decode_bytes(cp, "windows-1251")[0] == page("Казахстан и Россия" * 5)
