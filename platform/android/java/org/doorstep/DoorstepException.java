package org.doorstep;

import java.nio.charset.StandardCharsets;

/**
 * A failed Doorstep call: the C ABI's {@code ds_error}. {@link #getCode()} is
 * one of the {@code Doorstep.ERR_*} constants and says what to do next (see
 * doorstep.h). For {@link Doorstep#ERR_VALIDATION} the message is a JSON array
 * of problems. Messages never contain record content.
 */
public final class DoorstepException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final String detail;

  /** Built by the JNI bridge from a filled ds_error (message as UTF-8). */
  DoorstepException(int code, byte[] messageUtf8) {
    this(code, new String(messageUtf8, StandardCharsets.UTF_8));
  }

  private DoorstepException(int code, String detail) {
    super(Doorstep.codeName(code) + ": " + detail);
    this.code = code;
    this.detail = detail;
  }

  /** One of {@code Doorstep.ERR_*}. */
  public int getCode() {
    return code;
  }

  /** The stable lower_snake name of the code, e.g. "not_found". */
  public String getCodeName() {
    return Doorstep.codeName(code);
  }

  /** The message without the code name prefix (problems JSON for ERR_VALIDATION). */
  public String getDetail() {
    return detail;
  }
}
