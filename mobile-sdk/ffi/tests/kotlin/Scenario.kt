// Offline-first scenario through the generated Kotlin bindings, run on the JVM by
// mobile-sdk/ffi/tests/bindings.rs against a real in-process server.
//
// Usage: Scenario <work-dir> <server-url>
//
// Protocol with the harness: a line "STEP stop-server" or "STEP start-server"
// asks it to stop or restart the server; this program then blocks until the
// harness answers "ok" on stdin. "CREATED <doc-id>" tells the harness which
// documents to look for on the server afterwards. Any failed check() exits
// non-zero.
//
// The document contents must match EXPECTED_NOTES in bindings.rs and the
// Python scenario: the harness checks them independently.

import java.awt.image.BufferedImage
import java.io.File
import javax.imageio.ImageIO
import java.net.ServerSocket
import java.util.Collections
import kotlin.system.exitProcess
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.fieldsync.sdk.*

const val PASSWORD = "fieldsync-demo"

fun step(name: String) {
    println("STEP $name")
    System.out.flush()
    val answer = readLine()
    check(answer == "ok") { "harness answered ${answer ?: "<eof>"} to STEP $name" }
}

fun log(line: String) {
    println(line)
    System.out.flush()
}

/** Records status events; the SDK calls it from its own threads. */
class RecordingListener : SyncListener {
    val statuses: MutableList<String> = Collections.synchronizedList(mutableListOf())

    override fun onStatus(status: SyncStatus) {
        statuses.add(
            when (status) {
                is SyncStatus.Offline -> "OFFLINE"
                is SyncStatus.Syncing -> "SYNCING"
                is SyncStatus.UpToDate -> "UP_TO_DATE"
                is SyncStatus.Error -> if (status.retryable) "ERROR_RETRYABLE" else "ERROR"
            }
        )
    }

    override fun onDocumentsChanged(docIds: List<String>) {}

    override fun onRejected(docId: String, code: RejectCode, message: String) {
        statuses.add("REJECTED $docId $code")
    }

    override fun onPhotoProgress(hash: String, sent: ULong, total: ULong) {
        statuses.add("PHOTO_PROGRESS $hash $sent/$total")
    }

    override fun onPhotoUploaded(hash: String) {
        statuses.add("PHOTO_UPLOADED $hash")
    }

    override fun onPhotoFailed(hash: String, message: String, willRetry: Boolean) {
        statuses.add("PHOTO_FAILED $hash " + if (willRetry) "retrying" else "refused")
    }

    fun snapshot(): List<String> = synchronized(statuses) { statuses.toList() }
}

/**
 * Runs [block] and returns the FieldsyncException it must throw, checked to be
 * of type [E]. Anything else (no exception, another type, a crash) fails.
 */
inline fun <reified E : FieldsyncException> expectError(what: String, block: () -> Any?): E {
    try {
        val value = block()
        error("$what: expected ${E::class.simpleName}, but it returned $value")
    } catch (e: FieldsyncException) {
        check(e is E) { "$what: expected ${E::class.simpleName}, got ${e::class.simpleName}: ${e.message}" }
        log("ok: $what -> ${e::class.simpleName}")
        return e
    }
}

fun checkContains(json: String, vararg fragments: String) {
    for (f in fragments) {
        check(json.contains(f)) { "expected $f in $json" }
    }
}

/** Status events arrive asynchronously: wait until [ok] holds, for a while. */
suspend fun awaitStatuses(listener: RecordingListener, what: String, ok: (List<String>) -> Boolean) {
    val deadline = System.nanoTime() + 10_000_000_000L
    while (!ok(listener.snapshot())) {
        check(System.nanoTime() < deadline) { "$what; statuses seen: ${listener.snapshot()}" }
        delay(20)
    }
}

fun closedPortUrl(): String {
    val port = ServerSocket(0).use { it.localPort }
    return "http://127.0.0.1:$port"
}

suspend fun offlineRoundTrip(work: File, url: String): List<String> {
    val client = FieldsyncClient.open(File(work, "device-1").path, url)
    val listener = RecordingListener()
    client.setListener(listener)
    val session = client.login("demo-volunteer", PASSWORD)
    check(session.username == "demo-volunteer") { "logged in as ${session.username}" }
    client.syncNow()
    awaitStatuses(listener, "first sync reaches UP_TO_DATE") { it.contains("UP_TO_DATE") }

    step("stop-server")
    val seenBeforeOffline = listener.snapshot().size

    val streetlight = client.createDocument(
        DocType.NOTE,
        """{"title":"Streetlight out at 柳巷 14","area":"north gate","priority":2,"tags":["lighting","follow-up"]}""",
    )
    val shed = client.createDocument(
        DocType.NOTE,
        """{"title":"Bike shed gate left open","area":"block C","checked":false,"reporter":{"name":"Tang Xiaohe","shift":"night"}}""",
    )
    val round = client.createDocument(DocType.NOTE, """{"title":"East loop round","round":1,"log":[]}""")
    val created = listOf(streetlight, shed, round)
    created.forEach { log("CREATED $it") }

    client.updateDocument(shed, """{"checked":true,"area":null,"reporter":{"shift":"late night"},"closed_at":"23:40"}""")
    client.appendToList(round, "log", """{"at":"22:10","text":"east loop start, all quiet"}""")
    client.appendToList(round, "log", """{"at":"22:35","text":"parcel lockers checked"}""")

    val offline = expectError<FieldsyncException.Offline>("syncNow with the server down") { client.syncNow() }
    check(isRetryable(offline)) { "Offline must be retryable" }
    val pending = client.pendingChanges()
    check(pending > 0uL) { "edits made offline must be pending, got $pending" }
    log("offline: $pending change sets pending")
    awaitStatuses(listener, "offline sync reports OFFLINE or a retryable ERROR") {
        it.drop(seenBeforeOffline).any { s -> s == "OFFLINE" || s == "ERROR_RETRYABLE" }
    }

    step("start-server")
    val report = client.syncNow()
    check(report.ackedDocs >= 3uL) { "server acknowledged ${report.ackedDocs} documents, expected 3" }
    check(client.pendingChanges() == 0uL) { "still pending after sync: ${client.pendingChanges()}" }
    awaitStatuses(listener, "after reconnecting the listener sees UP_TO_DATE after OFFLINE/ERROR") { seen ->
        val tail = seen.drop(seenBeforeOffline)
        val down = tail.indexOfFirst { it == "OFFLINE" || it == "ERROR_RETRYABLE" }
        down >= 0 && tail.drop(down + 1).contains("UP_TO_DATE")
    }
    log("statuses: ${listener.snapshot()}")
    check(listener.snapshot().none { it.startsWith("REJECTED") }) { "nothing may be rejected" }

    badInputOnLiveClient(client, round)

    client.shutdown()
    expectError<FieldsyncException.Closed>("status() after shutdown") { client.status() }
    expectError<FieldsyncException.Closed>("documentJson after shutdown") { client.documentJson(round) }
    expectError<FieldsyncException.Closed>("createDocument after shutdown") {
        client.createDocument(DocType.NOTE, """{"title":"too late"}""")
    }
    expectError<FieldsyncException.Closed>("syncNow after shutdown") { client.syncNow() }
    client.shutdown()
    client.close()
    return created
}

suspend fun badInputOnLiveClient(client: FieldsyncClient, listDoc: String) {
    expectError<FieldsyncException.InvalidInput>("createDocument with a JSON array") {
        client.createDocument(DocType.NOTE, "[1,2]")
    }
    expectError<FieldsyncException.InvalidInput>("createDocument with invalid JSON") {
        client.createDocument(DocType.NOTE, "{\"title\": ")
    }
    expectError<FieldsyncException.InvalidInput>("updateDocument with a non-object patch") {
        client.updateDocument(listDoc, "\"just a string\"")
    }
    expectError<FieldsyncException.InvalidInput>("appendToList on a key that holds text") {
        client.appendToList(listDoc, "title", "{}")
    }
    expectError<FieldsyncException.NotFound>("documentJson of an unknown id") { client.documentJson("no-such-doc") }
    expectError<FieldsyncException.NotFound>("updateDocument of an unknown id") {
        client.updateDocument("no-such-doc", "{}")
    }
}

suspend fun secondDeviceSees(work: File, url: String, created: List<String>) {
    val other = FieldsyncClient.open(File(work, "device-2").path, url)
    other.login("demo-volunteer-2", PASSWORD)
    other.syncNow()
    val notes = other.listDocuments(DocType.NOTE)
    for (id in created) {
        check(notes.contains(id)) { "device 2 lacks $id; it has $notes" }
    }
    val (streetlight, shed, round) = created
    checkContains(
        other.documentJson(streetlight),
        "\"title\":\"Streetlight out at 柳巷 14\"",
        "\"area\":\"north gate\"",
        "\"priority\":2",
        "\"tags\":[\"lighting\",\"follow-up\"]",
    )
    val shedJson = other.documentJson(shed)
    checkContains(
        shedJson,
        "\"title\":\"Bike shed gate left open\"",
        "\"checked\":true",
        "\"name\":\"Tang Xiaohe\"",
        "\"shift\":\"late night\"",
        "\"closed_at\":\"23:40\"",
    )
    check(!shedJson.contains("\"area\"")) { "the merge patch deleted area: $shedJson" }
    val roundJson = other.documentJson(round)
    val first = roundJson.indexOf("\"text\":\"east loop start, all quiet\"")
    val second = roundJson.indexOf("\"text\":\"parcel lockers checked\"")
    check(first >= 0 && second > first) { "log items missing or out of order: $roundJson" }
    log("ok: device 2 (demo-volunteer-2) sees all ${created.size} notes")
    other.shutdown()
    other.close()
}

suspend fun leaderPlansANight(work: File, url: String) {
    val leader = FieldsyncClient.open(File(work, "leader").path, url)
    val session = leader.login("demo-leader", PASSWORD)
    val route = NewRoute(
        name = "Building 3 stairwells",
        team = "team-1",
        posts = listOf("post-b3-u1-f5", "post-b3-u1-f9"),
        ordered = false,
        intervalMin = 120u,
        activeFrom = "20:00",
        activeUntil = "02:00",
        graceMin = 15u,
    )
    val routeId = leader.createRoute(route)
    leader.createDefaultRoster("team-1", "2026-11-16", listOf(session.userId), listOf(), listOf(routeId))
    // Monday 2026-11-16, 21:00 in Shanghai: three windows of two posts, all to come.
    val statuses = leader.myRouteStatus(1_794_834_000_000L)
    check(statuses.size == 6) { "expected 6 post windows, got $statuses" }
    check(statuses.all { it.status == "pending" }) { "all pending: $statuses" }
    expectError<FieldsyncException.InvalidInput>("a route with interval 0") {
        leader.createRoute(route.copy(intervalMin = 0u))
    }
    val patrol = leader.startPatrol("team-1", routeId)
    for (i in 0 until 3) {
        leader.recordBreadcrumb(patrol, GpsFix(lat = 31.2 + i * 0.0001, lon = 121.4, accuracyM = 5.0))
    }
    check(leader.breadcrumbCount(patrol) == 3uL) { "three breadcrumbs recorded" }
    expectError<FieldsyncException.InvalidInput>("a breadcrumb at latitude 91") {
        leader.recordBreadcrumb(patrol, GpsFix(lat = 91.0, lon = 0.0, accuracyM = 1.0))
    }

    // A photo taken at the post goes with the check-in; it uploads on its own.
    val listener = RecordingListener()
    leader.setListener(listener)
    val image = BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB)
    for (x in 0 until 64) for (y in 0 until 48) image.setRGB(x, y, (x * 4 shl 16) or (y * 5))
    val file = File(work, "landing.jpg")
    check(ImageIO.write(image, "jpg", file)) { "the JDK writes JPEG" }
    val photo = leader.importPhoto(file.path)
    leader.checkInVisit(
        patrol,
        Visit(
            postId = "post-b3-u1-f5",
            tagPayload = null,
            reason = "tag torn off",
            fix = null,
            note = "",
            photos = listOf(photo),
        ),
    )
    val noteId = leader.addPatrolNote(patrol, "handover: gate B chained, key with the guard")
    expectError<FieldsyncException.InvalidInput>("an empty patrol note") { leader.addPatrolNote(patrol, "  ") }
    val notes = leader.patrol(patrol).notes
    check(notes.map { it.id } == listOf(noteId)) { "one note on the patrol: $notes" }
    leader.endPatrol(patrol)
    val report = leader.syncNow()
    check(report.rejected == 0uL) { "route, roster, patrol, check-in and note accepted: $report" }
    val uploads = leader.uploadPhotosNow()
    check(uploads.uploaded == 1uL && uploads.waiting == 0uL) { "uploaded: $uploads" }
    awaitStatuses(listener, "the listener hears the upload finish") { it.contains("PHOTO_UPLOADED $photo") }
    check(leader.photoUploads().map { it.state } == listOf("uploaded")) { "the queue knows it is uploaded" }
    val text = File(work, "notes.jpg").apply { writeText("this is a text file named .jpg") }
    expectError<FieldsyncException.InvalidInput>("importPhoto of a text file") {
        leader.importPhoto(text.path)
    }
    check(leader.alerts().isEmpty()) { "no alerts yet" }
    log("ok: leader planned a route and roster, patrolled with breadcrumbs and a photo, over the FFI")
    leader.shutdown()
    leader.close()
}

fun badOpens(work: File, url: String) {
    expectError<FieldsyncException.InvalidInput>("open with an empty data dir") { FieldsyncClient.open("", url) }

    val plainFile = File(work, "plain-file").apply { writeText("not a directory") }
    val e = expectError<FieldsyncException>("open on a regular file") { FieldsyncClient.open(plainFile.path, url) }
    check(e is FieldsyncException.InvalidInput || e is FieldsyncException.Storage) {
        "open on a regular file: expected InvalidInput or Storage, got ${e::class.simpleName}"
    }

    val garbled = File(work, "garbled").apply { mkdirs() }
    File(garbled, "fieldsync.db").writeText("patrol roster, not a database\n".repeat(200))
    expectError<FieldsyncException.Storage>("open on a garbage fieldsync.db") {
        FieldsyncClient.open(garbled.path, url)
    }

    expectError<FieldsyncException.InvalidInput>("open with server URL 'not a url'") {
        FieldsyncClient.open(File(work, "bad-url").path, "not a url")
    }
}

suspend fun loginToClosedPort(work: File) {
    val client = FieldsyncClient.open(File(work, "closed-port").path, closedPortUrl())
    val e = expectError<FieldsyncException.Offline>("login to a closed port") { client.login("demo-volunteer", PASSWORD) }
    check(isRetryable(e)) { "Offline must be retryable" }
    client.shutdown()
    client.close()
}

fun main(args: Array<String>) {
    check(args.size == 2) { "usage: Scenario <work-dir> <server-url>" }
    val work = File(args[0])
    val url = args[1]
    try {
        runBlocking {
            val created = offlineRoundTrip(work, url)
            secondDeviceSees(work, url, created)
            leaderPlansANight(work, url)
            badOpens(work, url)
            loginToClosedPort(work)
        }
    } catch (t: Throwable) {
        System.out.flush()
        System.err.println("Kotlin scenario failed: $t")
        t.printStackTrace()
        System.err.flush()
        exitProcess(1)
    }
    log("Kotlin scenario passed")
    // The SDK's native threads must not keep the JVM alive.
    exitProcess(0)
}
