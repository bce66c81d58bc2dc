package org.doorstep;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.After;
import org.junit.Before;
import org.junit.BeforeClass;
import org.junit.Test;

/** The Java shell over libdoorstep.so, as an Android app would use it. */
public class DoorstepTest {
  static final String OPTIONS = "{\"kdf\":\"interactive\"}";

  static String visitNote(String wishes) {
    return "{\"visit_type\":\"child_in_need\","
        + "\"visit_start\":\"2025-03-10T10:00:00+00:00\","
        + "\"visit_end\":\"2025-03-10T11:00:00+00:00\","
        + "\"announced\":true,\"location\":\"Family home\","
        + "\"persons_present\":[{\"name\":\"Child A\",\"role\":\"child\"}],"
        + "\"child_seen\":true,\"seen_alone\":true,"
        + "\"purpose\":\"Statutory visit.\\n\",\"observations\":\"Tidy home.\\n\","
        + "\"wishes_and_feelings\":\"" + wishes + "\"}";
  }

  static String field(String json, String key) {
    Matcher m = Pattern.compile("\"" + key + "\":\"([^\"]*)\"").matcher(json);
    assertTrue("no " + key + " in " + json.length() + " chars", m.find());
    return m.group(1);
  }

  Path dir;

  @BeforeClass
  public static void initLibrary() throws DoorstepException {
    Doorstep.init();
  }

  @Before
  public void makeDir() throws IOException {
    dir = Files.createTempDirectory("ds_java_");
  }

  @After
  public void removeDir() throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }

  String path(String name) {
    return dir.resolve(name).toString();
  }

  @Test
  public void versionAndCodeNames() {
    assertTrue(Doorstep.version().length() > 0);
    assertEquals("not_found", Doorstep.codeName(Doorstep.ERR_NOT_FOUND));
    assertEquals("validation", Doorstep.codeName(Doorstep.ERR_VALIDATION));
  }

  @Test
  public void openAddGetListWithUnicode() throws DoorstepException {
    // Characters outside the BMP must survive (JNI's "modified UTF-8" would not).
    String wishes = "Child A said: I feel safe \uD83D\uDE00 \u00FCn\u00EFc\u00F6d\u00E9";
    String id;
    try (Doorstep store = Doorstep.create(path("a.db"), "pin 1234".toCharArray(), null, OPTIONS)) {
      String rec = store.recordPut("visit_note", "case-001", visitNote(wishes), "draft");
      id = field(rec, "id");
      assertEquals(32, id.length());
    }
    try (Doorstep store = Doorstep.open(path("a.db"), "pin 1234".toCharArray(), null)) {
      String got = store.recordGet(id);
      assertEquals(wishes, field(got, "wishes_and_feelings"));
      String list = store.recordList("{\"subject_id\":\"case-001\"}");
      assertTrue(list.contains(id));
      assertEquals("[]", store.recordList("{\"subject_id\":\"case-002\"}"));
      String status = store.status();
      assertTrue(status.contains("\"records\":1"));
      String edited = store.recordEdit(id, "{\"analysis\":\"Going well.\"}", "final");
      assertEquals("final", field(edited, "status"));
      assertTrue(store.recordHistory(id).contains("\"local_version\":2"));
      assertEquals("[]", store.conflictsList(true));
    }
  }

  @Test
  public void putManyAddsEveryRecordInOneCall() throws DoorstepException {
    StringBuilder records = new StringBuilder("[");
    for (int i = 0; i < 40; i++) {
      if (i > 0) records.append(',');
      records.append("{\"type\":\"visit_note\",\"subject_id\":\"case-010\",\"fields\":")
          .append(visitNote("Entry " + i)).append('}');
    }
    records.append(",{\"type\":\"visit_note\",\"subject_id\":\"case-010\",")
        .append("\"fields\":{\"visit_type\":\"nope\"}}]");
    try (Doorstep store = Doorstep.create(path("m.db"), "pin 1234".toCharArray(), null, OPTIONS)) {
      String out = store.recordPutMany(records.toString());
      assertTrue(out.startsWith("["));
      assertEquals(40, out.split("\"ok\":true", -1).length - 1);
      assertEquals(1, out.split("\"ok\":false", -1).length - 1);
      assertTrue(store.status().contains("\"records\":40"));
      try {
        store.recordPutMany("[{\"type\":\"visit_note\"}]");
        fail("an entry without subject_id must throw");
      } catch (DoorstepException e) {
        assertEquals(Doorstep.ERR_INVALID_ARGUMENT, e.getCode());
        assertTrue(e.getMessage().contains("records[0]"));
      }
    }
  }

  @Test
  public void errorsCarryTheirCode() throws DoorstepException {
    try (Doorstep store = Doorstep.create(path("b.db"), "right".toCharArray(), null, OPTIONS)) {
      try {
        store.recordPut("visit_note", "case-001", "{\"visit_type\":\"nope\"}", null);
        fail("a refused record must throw");
      } catch (DoorstepException e) {
        assertEquals(Doorstep.ERR_VALIDATION, e.getCode());
        assertTrue(e.getDetail().startsWith("["));
        assertTrue(e.getDetail().contains("\"path\":\"visit_type\""));
      }
      try {
        store.recordGet("0123456789abcdef0123456789abcdef");
        fail();
      } catch (DoorstepException e) {
        assertEquals(Doorstep.ERR_NOT_FOUND, e.getCode());
      }
    }
    try {
      Doorstep.open(path("b.db"), "wrong".toCharArray(), null);
      fail("a wrong passphrase must throw");
    } catch (DoorstepException e) {
      assertEquals(Doorstep.ERR_UNAUTHENTICATED, e.getCode());
      assertEquals("unauthenticated", e.getCodeName());
    }
    try {
      Doorstep.open(path("none.db"), "x".toCharArray(), null);
      fail();
    } catch (DoorstepException e) {
      assertEquals(Doorstep.ERR_NOT_FOUND, e.getCode());
    }
  }

  @Test
  public void validateWithoutSaving() throws DoorstepException {
    String v = Doorstep.validate("visit_note", "{\"child_seen\":false}", null);
    assertTrue(v.contains("\"ok\":false"));
    assertTrue(v.contains("child_not_seen"));
    assertTrue(Doorstep.validate("visit_note", visitNote("Fine."), "draft").contains("\"ok\":true"));
    try {
      Doorstep.validate("nope", "{}", null);
      fail();
    } catch (DoorstepException e) {
      assertEquals(Doorstep.ERR_INVALID_ARGUMENT, e.getCode());
    }
  }

  @Test
  public void platformKeyLockUnlockWipe() throws DoorstepException {
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) key[i] = (byte) (i * 3 + 1);
    try (Doorstep store = Doorstep.create(path("k.db"), null, key, null)) {
      store.lock();
      try {
        store.recordList(null);
        fail();
      } catch (DoorstepException e) {
        assertEquals(Doorstep.ERR_FAILED_PRECONDITION, e.getCode());
      }
      store.unlock(null, key);
      assertNotNull(store.recordList(null));
      store.passwd(null, key, "pin 9876".toCharArray(), key);
      store.wipe();
    }
    try {
      Doorstep.open(path("k.db"), "pin 9876".toCharArray(), key);
      fail();
    } catch (DoorstepException e) {
      assertEquals(Doorstep.ERR_NOT_FOUND, e.getCode());
    }
  }

  @Test
  public void closedStoreRefusesCalls() throws DoorstepException {
    Doorstep store = Doorstep.create(path("c.db"), "pw".toCharArray(), null, OPTIONS);
    store.close();
    store.close();  // twice is harmless
    try {
      store.status();
      fail();
    } catch (DoorstepException e) {
      assertEquals(Doorstep.ERR_INVALID_ARGUMENT, e.getCode());
    }
  }
}
