package org.doorstep;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The Java shell against a real server on 127.0.0.1 (the built `doorstep`
 * binary, DOORSTEP_BIN): open, add, list, sync; progress over a
 * 10,000-record sync; cancel; a throwing listener.
 */
public class DoorstepSyncTest {
  static Path dir;
  static Process server;
  static String bin;
  static String address;
  static String serverKey;
  static int devices = 0;

  static String run(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(bin);
    for (String a : args) cmd.add(a);
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertEquals("exit status of " + String.join(" ", args), 0, p.waitFor());
    return out;
  }

  @BeforeClass
  public static void startServer() throws Exception {
    Doorstep.init();
    bin = System.getenv("DOORSTEP_BIN");
    assertNotNull("DOORSTEP_BIN must name the doorstep binary", bin);
    // 10,000 records with an fsync each: use the RAM disk when it has room.
    Path shm = Paths.get("/dev/shm");
    boolean fast = Files.isDirectory(shm) && Files.getFileStore(shm).getUsableSpace() > (1L << 30);
    dir = fast ? Files.createTempDirectory(shm, "ds_java_sync_")
               : Files.createTempDirectory("ds_java_sync_");
    String serverDir = dir.resolve("server").toString();
    serverKey = run("server", "init", "--dir", serverDir);
    assertEquals(64, serverKey.length());
    server = new ProcessBuilder(bin, "server", "run", "--dir", serverDir, "--listen", "127.0.0.1:0")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(
        new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    assertNotNull("server run printed nothing", line);
    assertTrue(line, line.startsWith("listening on "));
    address = line.substring("listening on ".length()).trim();
  }

  @AfterClass
  public static void stopServer() throws Exception {
    if (server != null) {
      server.destroy();  // SIGTERM: the server stops cleanly
      if (!server.waitFor(10, TimeUnit.SECONDS)) server.destroyForcibly().waitFor();
    }
    if (dir != null) {
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
      }
    }
  }

  /** A new store enrolled as `practitioner`, who has `subject` on their caseload. */
  static Doorstep device(String practitioner, String subject) throws Exception {
    String serverDir = dir.resolve("server").toString();
    String code = run("server", "enroll", "--dir", serverDir, "--practitioner", practitioner,
        "--role", "social_worker");
    run("server", "assign", "--dir", serverDir, "--practitioner", practitioner, "--subject", subject);
    Doorstep store = Doorstep.create(dir.resolve("device" + (++devices) + ".db").toString(),
        "pin 1357".toCharArray(), null, DoorstepTest.OPTIONS);
    store.enroll(address, serverKey, code);
    return store;
  }

  /** Checks every progress report of one sync. */
  static final class Checker implements ProgressListener {
    String phase = "";
    long lastDone = -1;
    long lastTotal = 0;
    int calls = 0;
    int decreased = 0;
    int overTotal = 0;
    int unfinished = 0;
    final Map<String, Long> endTotals = new HashMap<>();

    @Override
    public void onProgress(String p, long done, long total) {
      if (!p.equals(phase)) {
        end();
        phase = p;
        lastDone = -1;
      }
      if (done < lastDone) decreased++;
      if (done > total) overTotal++;
      lastDone = done;
      lastTotal = total;
      calls++;
    }

    /** "connect" is reported once, as 0 of 1, before the connection opens. */
    void end() {
      if (phase.isEmpty() || phase.equals("connect")) return;
      if (lastDone != lastTotal) unfinished++;
      endTotals.put(phase, lastTotal);
    }
  }

  static int count(String haystack, String needle) {
    int n = 0;
    for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) n++;
    return n;
  }

  @Test
  public void openAddListSyncAndPullOnASecondDevice() throws Exception {
    try (Doorstep a = device("worker-j1", "case-j01"); Doorstep b = device("worker-j2", "case-j01")) {
      assertTrue(a.status().contains("\"enrolled\":true"));
      String rec = a.recordPut("visit_note", "case-j01", DoorstepTest.visitNote("Fine."), "draft");
      String id = DoorstepTest.field(rec, "id");
      assertTrue(a.recordList(null).contains(id));
      String report = a.sync(null, null);
      assertTrue(report, report.contains("\"pushed\":1"));
      report = b.sync(null, null);
      assertTrue(report, report.contains("\"pulled\":1"));
      assertTrue(b.recordList("{\"subject_id\":\"case-j01\"}").contains(id));
      assertEquals("Fine.", DoorstepTest.field(b.recordGet(id), "wishes_and_feelings"));
    }
  }

  @Test
  public void progressOverTenThousandRecords() throws Exception {
    final int records = 10000;
    try (Doorstep a = device("worker-j3", "case-j02"); Doorstep b = device("worker-j4", "case-j02")) {
      String fields = DoorstepTest.visitNote("Bulk.");
      for (int i = 0; i < records; i++) a.recordPut("visit_note", "case-j02", fields, null);

      Checker push = new Checker();
      String report = a.sync(push, null);
      push.end();
      assertTrue(report, report.contains("\"pushed\":" + records));
      assertEquals(0, push.decreased);
      assertEquals(0, push.overTotal);
      assertEquals(0, push.unfinished);
      assertEquals(Long.valueOf(records), push.endTotals.get("push"));
      assertTrue(push.endTotals.containsKey("done"));
      assertTrue("progress during the push, not once: " + push.calls, push.calls > 10);

      Checker pull = new Checker();
      report = b.sync(pull, null);
      pull.end();
      assertTrue(report, report.contains("\"pulled\":" + records));
      assertEquals(0, pull.decreased);
      assertEquals(0, pull.overTotal);
      assertEquals(0, pull.unfinished);
      assertTrue(pull.endTotals.get("pull") >= records);
      assertTrue(pull.endTotals.containsKey("done"));
      assertTrue(pull.calls > 3);
      assertEquals(records, count(b.recordList("{\"subject_id\":\"case-j02\"}"), "\"subject_id\":\"case-j02\""));
    }
  }

  @Test
  public void cancelledSyncKeepsThePendingChange() throws Exception {
    try (Doorstep a = device("worker-j5", "case-j03"); Doorstep.Cancel cancel = new Doorstep.Cancel()) {
      a.recordPut("visit_note", "case-j03", DoorstepTest.visitNote("Later."), null);
      cancel.cancel();
      try {
        a.sync(null, cancel);
        fail("a cancelled sync must throw");
      } catch (DoorstepException e) {
        assertEquals(Doorstep.ERR_ABORTED, e.getCode());
      }
      assertTrue(a.status().contains("\"pending\":1"));
      assertTrue(a.sync(null, null).contains("\"pushed\":1"));
    }
  }

  @Test
  public void aThrowingListenerIsRethrownAfterTheSync() throws Exception {
    try (Doorstep a = device("worker-j6", "case-j04")) {
      a.recordPut("visit_note", "case-j04", DoorstepTest.visitNote("Listener."), null);
      final int[] calls = {0};
      try {
        a.sync((phase, done, total) -> {
          calls[0]++;
          throw new IllegalStateException("listener failed");
        }, null);
        fail("the listener's exception must reach the caller");
      } catch (IllegalStateException e) {
        assertEquals("listener failed", e.getMessage());
      }
      assertEquals("not called again after it threw", 1, calls[0]);
      // The sync itself ran to the end: nothing is left to push.
      assertTrue(a.status().contains("\"pending\":0"));
    }
  }
}
