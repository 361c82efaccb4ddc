"""Offline-first scenario through the generated Python bindings, run by
mobile-sdk/ffi/tests/bindings.rs against a real in-process server.

Usage: python3 scenario.py <work-dir> <server-url>   (PYTHONPATH = generated dir)

Protocol with the harness: a line "STEP stop-server" or "STEP start-server"
asks it to stop or restart the server; this program then blocks until the
harness answers "ok" on stdin. "CREATED <doc-id>" tells the harness which
documents to look for on the server afterwards. Any failed check exits
non-zero.

The document contents must match EXPECTED_NOTES in bindings.rs and the Kotlin
scenario: the harness checks them independently.
"""

import asyncio
import json
import os
import socket
import sys
import threading
import struct
import time
import zlib

from fieldsync_sdk import (
    DocType,
    FieldsyncClient,
    FieldsyncError,
    GpsFix,
    HazardAction,
    NewHazard,
    NewRoute,
    Severity,
    SyncListener,
    is_retryable,
)

PASSWORD = "fieldsync-demo"

STREETLIGHT = {
    "title": "Streetlight out at 柳巷 14",
    "area": "north gate",
    "priority": 2,
    "tags": ["lighting", "follow-up"],
}
SHED = {
    "title": "Bike shed gate left open",
    "area": "block C",
    "checked": False,
    "reporter": {"name": "Tang Xiaohe", "shift": "night"},
}
SHED_PATCH = {"checked": True, "area": None, "reporter": {"shift": "late night"}, "closed_at": "23:40"}
SHED_AFTER = {
    "title": "Bike shed gate left open",
    "checked": True,
    "reporter": {"name": "Tang Xiaohe", "shift": "late night"},
    "closed_at": "23:40",
}
ROUND = {"title": "East loop round", "round": 1, "log": []}
ROUND_LOG = [
    {"at": "22:10", "text": "east loop start, all quiet"},
    {"at": "22:35", "text": "parcel lockers checked"},
]


class CheckFailed(Exception):
    pass


def check(cond, what):
    # Not `assert`: python -O would strip it and the test could not fail.
    if not cond:
        raise CheckFailed(what)


def log(line):
    print(line, flush=True)


def step(name):
    log(f"STEP {name}")
    answer = sys.stdin.readline()
    check(answer.strip() == "ok", f"harness answered {answer!r} to STEP {name}")


class RecordingListener(SyncListener):
    """Records status events; the SDK calls it from its own threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._statuses = []

    def _add(self, s):
        with self._lock:
            self._statuses.append(s)

    def on_status(self, status):
        if status.is_offline():
            self._add("OFFLINE")
        elif status.is_syncing():
            self._add("SYNCING")
        elif status.is_up_to_date():
            self._add("UP_TO_DATE")
        elif status.is_error():
            self._add("ERROR_RETRYABLE" if status.retryable else "ERROR")

    def on_documents_changed(self, doc_ids):
        pass

    def on_rejected(self, doc_id, code, message):
        self._add(f"REJECTED {doc_id} {code}")

    def on_photo_progress(self, hash_, sent, total):
        self._add(f"PHOTO_PROGRESS {hash_} {sent}/{total}")

    def on_photo_uploaded(self, hash_):
        self._add(f"PHOTO_UPLOADED {hash_}")

    def on_photo_failed(self, hash_, message, will_retry):
        self._add(f"PHOTO_FAILED {hash_} {'retrying' if will_retry else 'refused'}")

    def snapshot(self):
        with self._lock:
            return list(self._statuses)


async def expect_error(what, error_types, call):
    """Awaits (or calls) `call` and returns the FieldsyncError it must raise,
    checked to be one of `error_types`. Anything else fails."""
    if not isinstance(error_types, tuple):
        error_types = (error_types,)
    try:
        result = call()
        if asyncio.iscoroutine(result):
            result = await result
    except FieldsyncError as e:
        check(isinstance(e, error_types), f"{what}: expected {error_types}, got {e!r}")
        log(f"ok: {what} -> {type(e).__name__}")
        return e
    raise CheckFailed(f"{what}: expected {error_types}, but it returned {result!r}")


async def await_statuses(listener, what, ok):
    # Status events arrive asynchronously.
    deadline = time.monotonic() + 10
    while not ok(listener.snapshot()):
        check(time.monotonic() < deadline, f"{what}; statuses seen: {listener.snapshot()}")
        await asyncio.sleep(0.02)


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def offline_round_trip(work, url):
    client = FieldsyncClient.open(os.path.join(work, "device-1"), url)
    listener = RecordingListener()
    client.set_listener(listener)
    session = await client.login("demo-volunteer", PASSWORD)
    check(session.username == "demo-volunteer", f"logged in as {session.username}")
    await client.sync_now()
    await await_statuses(listener, "first sync reaches UP_TO_DATE", lambda s: "UP_TO_DATE" in s)

    step("stop-server")
    seen_before_offline = len(listener.snapshot())

    streetlight = await client.create_document(DocType.NOTE, json.dumps(STREETLIGHT, ensure_ascii=False))
    shed = await client.create_document(DocType.NOTE, json.dumps(SHED))
    round_ = await client.create_document(DocType.NOTE, json.dumps(ROUND))
    created = [streetlight, shed, round_]
    for doc_id in created:
        log(f"CREATED {doc_id}")

    await client.update_document(shed, json.dumps(SHED_PATCH))
    for item in ROUND_LOG:
        await client.append_to_list(round_, "log", json.dumps(item))

    offline = await expect_error("sync_now with the server down", FieldsyncError.Offline, client.sync_now)
    check(is_retryable(offline), "Offline must be retryable")
    pending = await client.pending_changes()
    check(pending > 0, f"edits made offline must be pending, got {pending}")
    log(f"offline: {pending} change sets pending")

    def went_down(statuses):
        return any(s in ("OFFLINE", "ERROR_RETRYABLE") for s in statuses[seen_before_offline:])

    await await_statuses(listener, "offline sync reports OFFLINE or a retryable ERROR", went_down)

    step("start-server")
    report = await client.sync_now()
    check(report.acked_docs >= 3, f"server acknowledged {report.acked_docs} documents, expected 3")
    pending = await client.pending_changes()
    check(pending == 0, f"still pending after sync: {pending}")

    def came_back(statuses):
        tail = statuses[seen_before_offline:]
        downs = [i for i, s in enumerate(tail) if s in ("OFFLINE", "ERROR_RETRYABLE")]
        return bool(downs) and "UP_TO_DATE" in tail[downs[0] + 1 :]

    await await_statuses(listener, "after reconnecting the listener sees UP_TO_DATE after OFFLINE/ERROR", came_back)
    log(f"statuses: {listener.snapshot()}")
    check(not any(s.startswith("REJECTED") for s in listener.snapshot()), "nothing may be rejected")

    await bad_input_on_live_client(client, round_)

    client.shutdown()
    await expect_error("status() after shutdown", FieldsyncError.Closed, client.status)
    await expect_error("document_json after shutdown", FieldsyncError.Closed, lambda: client.document_json(round_))
    await expect_error(
        "create_document after shutdown",
        FieldsyncError.Closed,
        lambda: client.create_document(DocType.NOTE, '{"title":"too late"}'),
    )
    await expect_error("sync_now after shutdown", FieldsyncError.Closed, client.sync_now)
    client.shutdown()
    return created


async def bad_input_on_live_client(client, list_doc):
    invalid = FieldsyncError.InvalidInput
    await expect_error("create_document with a JSON array", invalid, lambda: client.create_document(DocType.NOTE, "[1,2]"))
    await expect_error(
        "create_document with invalid JSON", invalid, lambda: client.create_document(DocType.NOTE, '{"title": ')
    )
    await expect_error(
        "update_document with a non-object patch", invalid, lambda: client.update_document(list_doc, '"just a string"')
    )
    await expect_error(
        "append_to_list on a key that holds text", invalid, lambda: client.append_to_list(list_doc, "title", "{}")
    )
    await expect_error(
        "document_json of an unknown id", FieldsyncError.NotFound, lambda: client.document_json("no-such-doc")
    )
    await expect_error(
        "update_document of an unknown id", FieldsyncError.NotFound, lambda: client.update_document("no-such-doc", "{}")
    )


async def second_device_sees(work, url, created):
    other = FieldsyncClient.open(os.path.join(work, "device-2"), url)
    await other.login("demo-volunteer-2", PASSWORD)
    await other.sync_now()
    notes = await other.list_documents(DocType.NOTE)
    for doc_id in created:
        check(doc_id in notes, f"device 2 lacks {doc_id}; it has {notes}")
    streetlight, shed, round_ = created
    expected = {
        streetlight: STREETLIGHT,
        shed: SHED_AFTER,
        round_: dict(ROUND, log=ROUND_LOG),
    }
    for doc_id, want in expected.items():
        got = json.loads(await other.document_json(doc_id))
        check(got == want, f"{doc_id} on device 2: {got} != {want}")
    log(f"ok: device 2 (demo-volunteer-2) sees all {len(created)} notes")
    other.shutdown()


async def leader_plans_a_night(work, url):
    leader = FieldsyncClient.open(os.path.join(work, "leader"), url)
    session = await leader.login("demo-leader", PASSWORD)
    route = NewRoute(
        name="Building 3 stairwells",
        team="team-1",
        posts=["post-b3-u1-f5", "post-b3-u1-f9"],
        ordered=False,
        interval_min=120,
        active_from="20:00",
        active_until="02:00",
        grace_min=15,
    )
    route_id = await leader.create_route(route)
    await leader.create_default_roster("team-1", "2026-11-16", [session.user_id], [], [route_id])
    # Monday 2026-11-16, 21:00 in Shanghai: three windows of two posts, all to come.
    statuses = await leader.my_route_status(1_794_834_000_000)
    check(len(statuses) == 6, f"expected 6 post windows, got {statuses}")
    check(all(s.status == "pending" for s in statuses), f"all pending: {statuses}")
    route.interval_min = 0
    await expect_error("a route with interval 0", FieldsyncError.InvalidInput, lambda: leader.create_route(route))
    await expect_error(
        "a roster starting on a Tuesday",
        FieldsyncError.InvalidInput,
        lambda: leader.create_default_roster("team-1", "2026-11-17", [session.user_id], [], []),
    )

    patrol = await leader.start_patrol("team-1", route_id)
    for i in range(3):
        await leader.record_breadcrumb(patrol, GpsFix(lat=31.2 + i * 0.0001, lon=121.4, accuracy_m=5.0))
    check(await leader.breadcrumb_count(patrol) == 3, "three breadcrumbs recorded")
    await expect_error(
        "a breadcrumb at latitude 91",
        FieldsyncError.InvalidInput,
        lambda: leader.record_breadcrumb(patrol, GpsFix(lat=91.0, lon=0.0, accuracy_m=1.0)),
    )
    note_id = await leader.add_patrol_note(patrol, "handover: gate B chained, key with the guard")
    await expect_error("an empty patrol note", FieldsyncError.InvalidInput, lambda: leader.add_patrol_note(patrol, " "))
    notes = (await leader.patrol(patrol)).notes
    check([n.id for n in notes] == [note_id], f"one note on the patrol: {notes}")
    await leader.end_patrol(patrol)
    report = await leader.sync_now()
    check(report.rejected == 0, f"route, roster, patrol and note accepted: {report}")
    check(await leader.alerts() == [], "no alerts yet")
    log("ok: leader planned a route and roster; route status and breadcrumbs over the FFI")
    leader.shutdown()


def png(width, height):
    """A real PNG (no imaging library needed): a red-to-blue gradient."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\0" + bytes(v for x in range(width) for v in (255 - x * 255 // width, 40, x * 255 // width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def photo_reaches_the_office(work, url):
    grid = FieldsyncClient.open(os.path.join(work, "grid-worker"), url)
    await grid.login("demo-grid", PASSWORD)
    listener = RecordingListener()
    grid.set_listener(listener)
    path = os.path.join(work, "wiring.png")
    with open(path, "wb") as f:
        f.write(png(64, 48))
    photo = await grid.import_photo(path)
    check(len(photo) == 64, f"a sha256 hash: {photo}")
    check(await grid.import_photo(path) == photo, "the same photo twice is one photo")
    queue = await grid.photo_uploads()
    check([(p.hash, p.state) for p in queue] == [(photo, "pending")], f"queued: {queue}")
    check(queue[0].path and os.path.isfile(queue[0].path), "the stored copy is there to show offline")
    hazard = await grid.report_hazard(
        NewHazard(
            category="wiring",
            severity=Severity.GENERAL,
            immediate=False,
            description="Exposed wiring above the meter boxes",
            post_id="post-b2-u1-f5",
            building=None,
            unit=None,
            floor=None,
            lat=None,
            lon=None,
            photos=[photo],
        )
    )
    report = await grid.sync_now()
    check(report.rejected == 0, f"the hazard is accepted before its photo arrives: {report}")
    uploads = await grid.upload_photos_now()
    check((uploads.uploaded, uploads.failed, uploads.waiting) == (1, 0, 0), f"uploaded: {uploads}")
    await await_statuses(listener, "the listener hears the upload finish", lambda s: f"PHOTO_UPLOADED {photo}" in s)
    check(any(s.startswith(f"PHOTO_PROGRESS {photo}") for s in listener.snapshot()), "progress was reported")
    check([p.state for p in await grid.photo_uploads()] == ["uploaded"], "the queue knows it is uploaded")

    text = os.path.join(work, "notes.jpg")
    with open(text, "w") as f:
        f.write("this is a text file named .jpg")
    await expect_error("import_photo of a text file", FieldsyncError.InvalidInput, lambda: grid.import_photo(text))
    await expect_error(
        "import_photo of a missing file",
        FieldsyncError.InvalidInput,
        lambda: grid.import_photo(os.path.join(work, "missing.png")),
    )
    await expect_error(
        "a hazard whose photo is not a hash",
        FieldsyncError.InvalidInput,
        lambda: grid.transition_hazard(hazard, HazardAction.COMMENT(), "see photo", ["wiring.png"]),
    )
    check(len(await grid.photo_uploads()) == 1, "refused photos are not queued")
    log(f"ok: photo {photo[:12]}… imported offline-first, hazard synced, photo uploaded with events")
    grid.shutdown()


async def bad_opens(work, url):
    await expect_error("open with an empty data dir", FieldsyncError.InvalidInput, lambda: FieldsyncClient.open("", url))

    plain_file = os.path.join(work, "plain-file")
    with open(plain_file, "w") as f:
        f.write("not a directory")
    await expect_error(
        "open on a regular file",
        (FieldsyncError.InvalidInput, FieldsyncError.Storage),
        lambda: FieldsyncClient.open(plain_file, url),
    )

    garbled = os.path.join(work, "garbled")
    os.makedirs(garbled, exist_ok=True)
    with open(os.path.join(garbled, "fieldsync.db"), "w") as f:
        f.write("patrol roster, not a database\n" * 200)
    await expect_error(
        "open on a garbage fieldsync.db", FieldsyncError.Storage, lambda: FieldsyncClient.open(garbled, url)
    )

    await expect_error(
        "open with server URL 'not a url'",
        FieldsyncError.InvalidInput,
        lambda: FieldsyncClient.open(os.path.join(work, "bad-url"), "not a url"),
    )


async def login_to_closed_port(work):
    client = FieldsyncClient.open(os.path.join(work, "closed-port"), closed_port_url())
    e = await expect_error(
        "login to a closed port", FieldsyncError.Offline, lambda: client.login("demo-volunteer", PASSWORD)
    )
    check(is_retryable(e), "Offline must be retryable")
    client.shutdown()


async def main(work, url):
    created = await offline_round_trip(work, url)
    await second_device_sees(work, url, created)
    await leader_plans_a_night(work, url)
    await photo_reaches_the_office(work, url)
    await bad_opens(work, url)
    await login_to_closed_port(work)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: scenario.py <work-dir> <server-url>")
    asyncio.run(main(sys.argv[1], sys.argv[2]))
    log("Python scenario passed")
    # Leave without interpreter finalization. An async FFI call completes by
    # calling back into Python from one of the SDK's threads; that thread can
    # still be on its way out of the callback when the main thread finishes,
    # and CPython's finalization ends such a thread with pthread_exit, which
    # the Rust frames beneath it cannot unwind through (the process aborts).
    # Every check has run by now; nothing is left to finalize.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
