"""Raw pages are stored compressed: Zstandard now, zlib in archives written before; both read."""

import zlib

import pytest

from archive.store import compress_page, decompress_page

PAGE = "<html><body><p>Қазақстан жаңалықтары, новости, news</p></body></html>".encode() * 50


def test_pages_are_stored_as_zstandard_and_read_back():
    stored = compress_page(PAGE)
    assert stored[:4] == b"\x28\xb5\x2f\xfd" and len(stored) < len(PAGE) / 10
    assert decompress_page(stored) == PAGE


def test_pages_an_older_archive_stored_with_zlib_still_read():
    assert decompress_page(zlib.compress(PAGE, 6)) == PAGE


def test_damaged_stored_data_is_a_clear_error():
    with pytest.raises(ValueError, match="not a stored page"):
        decompress_page(b"\x00\x11\x22\x33")
    with pytest.raises(ValueError, match="not a stored page"):
        decompress_page(compress_page(PAGE)[:-20])
