"""tfdisgan.console: tick lines where stdout is not a terminal, a copy of it all in log.txt."""

import io
import os
import tempfile

import tensorflow as tf

from tfdisgan.console import Console, format_tick

ENTRY = {"step": 8, "kimg": 0.064, "d_loss": 1.25, "g_loss": 0.75, "aug_p": 0.125,
         "sec_per_kimg": 12.5, "img_per_s": 80.0, "host_peak_mb": 1400.0}


class _Terminal(io.StringIO):
    def isatty(self):
        return True


class ConsoleTest(tf.test.TestCase):
    def test_tick_line(self):
        self.assertEqual(format_tick(ENTRY, 100),
                         "kimg 0.064  step 8/100  d_loss 1.2500  g_loss 0.7500  aug_p 0.125  "
                         "sec/kimg 12.5  img/s 80.0  host_mb 1400")

    def test_pipe_gets_tick_lines_terminal_the_bar_and_both_a_log(self):
        for stream, printed in ((io.StringIO(), True), (_Terminal(), False)):
            run_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
            console = Console(stream=stream)
            self.assertEqual(console.interactive, not printed)
            console.print("Resumed ckpt-4 at step 4")  # before the run folder exists
            console.attach(run_dir)
            console.print("Run folder: x")
            console.tick(ENTRY, 100)
            console.close()
            expected = ["Resumed ckpt-4 at step 4", "Run folder: x", format_tick(ENTRY, 100)]
            with open(os.path.join(run_dir, "log.txt"), encoding="utf-8") as handle:
                self.assertEqual(handle.read().splitlines(), expected)
            self.assertEqual(stream.getvalue().splitlines(),
                             expected if printed else expected[:2])

    def test_disabled_prints_and_writes_nothing(self):
        run_dir = tempfile.mkdtemp(dir=self.get_temp_dir())
        stream = io.StringIO()
        console = Console(enabled=False, stream=stream)
        console.attach(run_dir)
        console.print("x")
        console.tick(ENTRY, 10)
        self.assertEqual(stream.getvalue(), "")
        self.assertFalse(os.path.exists(os.path.join(run_dir, "log.txt")))


if __name__ == "__main__":
    tf.test.main()
