package org.doorstep;

/**
 * Receives sync progress from {@link Doorstep#sync}: the C ABI's
 * {@code ds_progress_fn}. Called on the thread that called {@code sync}; must
 * return quickly and must not call back into the same {@link Doorstep}.
 * Within a phase ("connect", "push", "pull", "done") {@code done} never
 * decreases and equals {@code total} at the phase's end. If it throws, it is
 * not called again and the exception is rethrown when {@code sync} returns.
 */
public interface ProgressListener {
  void onProgress(String phase, long done, long total);
}
