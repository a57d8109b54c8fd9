"""The URL downloader against a local http server on 127.0.0.1: real checkpoint files, Google Drive's
confirm pages, connections dropped mid-file, resumed ``.part`` files, wrong hashes and error pages."""

from __future__ import annotations

import hashlib
import http.cookiejar
import io

import pytest
import torch

from alignjax.weights import download as dl
from alignjax.weights import hub
from alignjax.weights.google_drive import ConfirmPage
from alignjax.weights.readers import read_state_dict
from tests.local_http import LocalServer, send_bytes, send_html, send_status

DRIVE_ID = "1qKDTp6IJ1BUXZaRtbYuo_t0tuDl_4mLg"


@pytest.fixture(scope="module")
def checkpoint() -> bytes:
    """A real torch.save zip checkpoint, nested and prefixed as DataParallel training scripts save it."""
    generator = torch.Generator().manual_seed(0)
    state = {f"module.layer{i}.weight": torch.randn(64, 64, generator=generator) for i in range(8)}
    buffer = io.BytesIO()
    torch.save({"epoch": 43, "arch": "tiny", "state_dict": state}, buffer)
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_names_ids_and_cache_paths():
    assert dl.hash_prefix_from_name("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth") == "7be5be79"
    assert dl.hash_prefix_from_name("https://s3.amazonaws.com/cornet-models/cornet_s-1d3f7974.pth") == "1d3f7974"
    assert dl.hash_prefix_from_name("voneresnet50_e70.pth.tar") is None
    assert dl.hash_prefix_from_name("model.safetensors") is None
    assert dl.google_drive_id(f"https://drive.google.com/uc?export=download&id={DRIVE_ID}") == DRIVE_ID
    assert dl.google_drive_id(f"https://drive.google.com/file/d/{DRIVE_ID}/view?usp=sharing") == DRIVE_ID
    assert dl.google_drive_id(f"http://127.0.0.1:1/uc?id={DRIVE_ID}") is None
    drive = hub.parse_source(f"https://drive.google.com/uc?export=download&id={DRIVE_ID}")
    assert isinstance(drive, hub.UrlSource) and drive.cache_name == f"drive.google.com/{DRIVE_ID}"
    assert drive.hash_prefix is None
    alexnet = hub.parse_source("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth")
    assert alexnet.cache_name == "download.pytorch.org/alexnet-owt-7be5be79.pth"
    assert alexnet.hash_prefix == "7be5be79"
    first, second = (hub.parse_source(f"http://127.0.0.1:1/uc?id={i}").cache_name for i in ("a", "b"))
    assert first != second and first.startswith("127.0.0.1/") and first.endswith("-uc")


def test_plain_https_checkpoint_with_hash_prefix_in_its_name(tmp_path, checkpoint):
    good = f"ckpt-{_sha(checkpoint)[:8]}.pth"
    with LocalServer() as server:
        server.route(f"/models/{good}", lambda handler, query: send_bytes(handler, checkpoint))
        server.route("/models/ckpt-deadbeef.pth", lambda handler, query: send_bytes(handler, checkpoint))
        path = hub.fetch(server.url(f"/models/{good}"), cache_dir=tmp_path / "dl", offline=False)
        assert path == tmp_path / "dl" / "127.0.0.1" / good and path.read_bytes() == checkpoint
        state = read_state_dict(path)  # module. prefixes stripped, 'state_dict' entry selected
        assert sorted(state) == [f"layer{i}.weight" for i in range(8)]
        with pytest.raises(hub.ChecksumMismatchError, match="expected deadbeef") as info:
            hub.fetch(server.url("/models/ckpt-deadbeef.pth"), cache_dir=tmp_path / "bad", offline=False)
    assert _sha(checkpoint) in str(info.value) and "registry entry" in str(info.value)
    assert _leftovers(tmp_path / "bad") == []  # neither the file nor its .part is kept


def test_full_sha256_is_checked_and_a_mismatch_names_both_digests(tmp_path, checkpoint):
    wrong = _sha(b"another file")
    with LocalServer() as server:
        server.route("/w.pth", lambda handler, query: send_bytes(handler, checkpoint))
        with pytest.raises(hub.ChecksumMismatchError) as info:
            dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=wrong)
        assert wrong in str(info.value) and _sha(checkpoint) in str(info.value)
        assert _leftovers(tmp_path) == []
        assert dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint)).is_file()
        assert len(server.requests) == 2
        dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint))  # verified, not fetched
        assert len(server.requests) == 2


def _drive_form(server, data):
    """Today's Drive: a virus-scan page whose form posts to drive.usercontent.google.com/download."""

    def uc(handler, query):
        send_html(handler, (
            "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>"
            f'<form id="download-form" action="{server.url("/download")}" method="get">'
            '<input type="submit" value="Download anyway"/>'
            f'<input type="hidden" name="id" value="{query["id"]}">'
            '<input type="hidden" name="export" value="download">'
            '<input type="hidden" name="confirm" value="t">'
            '<input type="hidden" name="uuid" value="5f3c1b2a-0000"></form></body></html>'))

    def usercontent(handler, query):
        if query.get("confirm") == "t" and query.get("uuid") == "5f3c1b2a-0000" and query.get("id") == DRIVE_ID:
            send_bytes(handler, data)
        else:
            send_status(handler, 403, "Forbidden")

    server.route("/uc", uc)
    server.route("/download", usercontent)


def _drive_link(server, data):
    """Drive before 2024: a page with a 'download anyway' link carrying the confirm token."""

    def uc(handler, query):
        if query.get("confirm") == "XyZ1":
            send_bytes(handler, data)
        else:
            send_html(handler, '<html><body><a id="uc-download-link" class="goog-inline-block jfk-button" '
                      f'href="/uc?export=download&amp;confirm=XyZ1&amp;id={query["id"]}">Download anyway</a>'
                      "</body></html>")

    server.route("/uc", uc)


def _drive_cookie(server, data):
    """Older Drive (RobustBench's download_gdrive): the token comes as a download_warning_* cookie."""

    def uc(handler, query):
        if query.get("confirm") == "tok3n" and "download_warning_13058876669334088843=tok3n" in (
                handler.headers.get("Cookie") or ""):
            send_bytes(handler, data)
        else:
            send_html(handler, "<html><body>Google Drive can't scan this file for viruses.</body></html>",
                      cookies=("download_warning_13058876669334088843=tok3n; Path=/",))

    server.route("/uc", uc)


@pytest.mark.parametrize("page", [_drive_form, _drive_link, _drive_cookie])
def test_google_drive_confirm_pages(tmp_path, checkpoint, page):
    with LocalServer() as server:
        page(server, checkpoint)
        path = dl.download(server.url(f"/uc?export=download&id={DRIVE_ID}"), tmp_path / DRIVE_ID,
                           sha256=_sha(checkpoint))
        assert path.read_bytes() == checkpoint and len(server.requests) == 2


def test_confirm_page_with_a_json_download_url():
    page = 'var a = {"downloadUrl":"https://drive.usercontent.google.com/download?id\\u003dX\\u0026confirm\\u003dt"};'
    found = ConfirmPage(page).file_url("https://drive.google.com/uc?id=X", http.cookiejar.CookieJar())
    assert found == "https://drive.usercontent.google.com/download?id=X&confirm=t"
    assert ConfirmPage("<html><title>Nothing</title></html>").file_url("https://x/", http.cookiejar.CookieJar()) is None


def test_drive_quota_and_login_pages_are_explained(tmp_path):
    quota = ('<html><body><p class="uc-error-caption">Sorry, you can\'t view or download this file at this '
             'time.</p><p class="uc-error-subcaption">Too many users have viewed or downloaded this file '
             "recently.</p></body></html>")
    login = "<html><head><title>Sign-in</title></head><body>Sign in to continue</body></html>"
    with LocalServer() as server:
        server.route("/uc", lambda handler, query: send_html(handler, quota))
        server.route("/login", lambda handler, query: send_html(handler, login))
        server.route("/page.pth", lambda handler, query: send_bytes(handler, login.encode()))
        with pytest.raises(dl.DownloadError, match="Too many users have viewed or downloaded"):
            dl.download(server.url(f"/uc?id={DRIVE_ID}"), tmp_path / "a")
        with pytest.raises(dl.NotAFileError, match="'Sign-in'.*instead of the file") as info:
            dl.download(server.url("/login"), tmp_path / "b")
        assert f"save the file as {tmp_path / 'b'}: the next run uses it as is" in str(info.value)
        with pytest.raises(dl.NotAFileError, match="sent an HTML page, not a file"):  # wrong Content-Type
            dl.download(server.url("/page.pth"), tmp_path / "c")
    assert _leftovers(tmp_path) == []


def test_404_is_a_file_not_found_that_says_what_to_check(tmp_path):
    with LocalServer() as server, pytest.raises(dl.RemoteFileNotFoundError) as info:
        dl.download(server.url("/models/gone.pth"), tmp_path / "gone.pth")
    assert isinstance(info.value, FileNotFoundError)
    assert "HTTP 404" in str(info.value) and "check the registry entry's source" in str(info.value)


def test_dropped_connections_resume_with_range_requests(tmp_path, checkpoint):
    calls = {"n": 0}

    def flaky(handler, query):
        calls["n"] += 1
        send_bytes(handler, checkpoint, drop_after=len(checkpoint) // 5 if calls["n"] <= 2 else None)

    with LocalServer() as server:
        server.route("/w.pth", flaky)
        path = dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint), retries=3)
        ranges = server.ranges("/w.pth")
    assert path.read_bytes() == checkpoint
    first, second = len(checkpoint) // 5, 2 * (len(checkpoint) // 5)
    assert ranges == [None, f"bytes={first}-", f"bytes={second}-"]


def test_a_part_left_by_an_earlier_run_is_continued(tmp_path, checkpoint):
    (tmp_path / "w.pth.part").write_bytes(checkpoint[:1000])
    with LocalServer() as server:
        server.route("/w.pth", lambda handler, query: send_bytes(handler, checkpoint))
        server.route("/plain.pth", lambda handler, query: send_bytes(handler, checkpoint, ranges=False))
        dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint))
        assert server.ranges("/w.pth") == ["bytes=1000-"]
        (tmp_path / "plain.pth.part").write_bytes(checkpoint[:1000])  # a server without Range support
        dl.download(server.url("/plain.pth"), tmp_path / "plain.pth", sha256=_sha(checkpoint))
    assert (tmp_path / "w.pth").read_bytes() == checkpoint == (tmp_path / "plain.pth").read_bytes()
    assert _leftovers(tmp_path) == ["plain.pth", "w.pth"]


def test_a_corrupt_old_part_is_fetched_again_from_scratch(tmp_path, checkpoint):
    (tmp_path / "w.pth.part").write_bytes(b"garbage from another file" * 40)
    with LocalServer() as server:
        server.route("/w.pth", lambda handler, query: send_bytes(handler, checkpoint))
        dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint))
        assert server.ranges("/w.pth") == ["bytes=1000-", None]
    assert (tmp_path / "w.pth").read_bytes() == checkpoint


def test_a_passing_server_error_is_retried(tmp_path, checkpoint):
    calls = {"n": 0}

    def busy_once(handler, query):
        calls["n"] += 1
        if calls["n"] == 1:
            send_status(handler, 503, "Service Unavailable")
        else:
            send_bytes(handler, checkpoint)

    with LocalServer() as server:
        server.route("/w.pth", busy_once)
        dl.download(server.url("/w.pth"), tmp_path / "w.pth", sha256=_sha(checkpoint))
    assert calls["n"] == 2 and (tmp_path / "w.pth").read_bytes() == checkpoint


def test_gives_up_after_the_retries_and_keeps_the_part(tmp_path, checkpoint):
    with LocalServer() as server:
        server.route("/w.pth", lambda handler, query: send_bytes(handler, checkpoint, drop_after=100))
        with pytest.raises(dl.DownloadError, match=r"failed 3 times \(2 retries\)") as info:
            dl.download(server.url("/w.pth"), tmp_path / "w.pth", retries=2)
    part = tmp_path / "w.pth.part"
    assert part.read_bytes() == checkpoint[:300] and not (tmp_path / "w.pth").exists()
    assert str(part) in str(info.value) and "resumes from there" in str(info.value)


def test_offline_uses_only_the_cache(tmp_path, checkpoint):
    url = "https://example.invalid/models/tiny-00000000.pth"
    with pytest.raises(hub.NotCachedError, match="save it as that path") as info:
        hub.fetch(url, cache_dir=tmp_path, offline=True)
    cached = tmp_path / "example.invalid" / "tiny-00000000.pth"
    assert str(cached) in str(info.value)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(checkpoint)
    with pytest.raises(hub.ChecksumMismatchError):  # the name's hash prefix is checked on cached files too
        hub.fetch(url, cache_dir=tmp_path, offline=True)
    named = tmp_path / "example.invalid" / f"tiny-{_sha(checkpoint)[:8]}.pth"
    named.write_bytes(checkpoint)
    assert hub.fetch(f"https://example.invalid/models/{named.name}", cache_dir=tmp_path, offline=True) == named


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="only http"):
        dl.download("ftp://example.invalid/w.pth", tmp_path / "w.pth")
    (tmp_path / "w.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match="is not 64 hex digits"):
        dl.verify_file(tmp_path / "w.pth", sha256="abc")
    with pytest.raises(ValueError, match="is not 1-64 hex digits"):
        dl.verify_file(tmp_path / "w.pth", hash_prefix="xyz")
