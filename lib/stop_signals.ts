/**
 * What a stop signal (SIGINT, SIGTERM) asks of the server: the first, a
 * graceful stop; a later one, a stop at once. One Ctrl-C on a terminal can
 * arrive twice: the terminal sends SIGINT to the whole process group, and
 * `deno task`, in that group, passes it on to the server as well. The two
 * came 1 to 95 ms apart in 12 tries on a loaded 2-core machine; so a signal
 * within {@link REPEAT_WINDOW_MS} of the first is taken for the same
 * keypress. A person who means the second press makes it later than that,
 * having seen the server not stop yet; and one who presses twice quickly
 * gets the graceful stop, which `linger` bounds anyway.
 *
 * @module
 */

/** How long after the first stop signal another counts as the same one. */
export const REPEAT_WINDOW_MS = 500;

/** What to do on a stop signal. */
export type StopAction = "graceful" | "repeat" | "at once";

/** Counts stop signals; pure: the time is given. */
export class StopSignals {
  #first: number | undefined;

  /**
   * Takes a stop signal.
   *
   * @param now the time in milliseconds (`performance.now()`)
   * @returns `graceful` for the first, `repeat` for one within
   * {@link REPEAT_WINDOW_MS} of it, `at once` for a later one
   */
  signal(now: number): StopAction {
    if (this.#first === undefined) {
      this.#first = now;
      return "graceful";
    }
    return now - this.#first < REPEAT_WINDOW_MS ? "repeat" : "at once";
  }
}
