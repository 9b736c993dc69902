"""tfdisgan.console: tick lines where stdout is not a terminal, a copy of it all in log.txt."""

import io
import os
import tempfile

import tensorflow as tf

from tfdisgan.console import Console, Progress, display_width, format_tick, pad

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


class ProgressTest(tf.test.TestCase):
    def test_pipe_gets_plain_lines_terminal_a_bar(self):
        pipe = io.StringIO()
        progress = Progress(100, "images", stream=pipe)
        for done in range(1, 101):
            progress.update(done, f"{done} kept")
        lines = pipe.getvalue().splitlines()
        self.assertLen(lines, 11)  # each tenth of the way (from the first) and the end
        self.assertTrue(lines[-1].startswith("100/100 images, 100 kept"))
        self.assertNotIn("\r", pipe.getvalue())
        terminal = _Terminal()
        progress = Progress(3, "fakes", stream=terminal)
        for done in (1, 2, 3):
            progress.update(done)
        self.assertEqual(terminal.getvalue().count("\r"), 3)
        self.assertTrue(terminal.getvalue().endswith("\n"))


class WidthTest(tf.test.TestCase):
    def test_wide_and_combining_characters(self):
        import unicodedata

        self.assertEqual(display_width("flood"), 5)
        self.assertEqual(display_width("건물화재"), 8)
        self.assertEqual(display_width(unicodedata.normalize("NFD", "홍수")), 4)
        self.assertEqual(pad("홍수", 6) + "|", "홍수  |")
        self.assertEqual(pad("7", 3, ">"), "  7")

    def test_dataset_summary_columns_line_up_with_korean_names(self):
        from tfdisgan.data.tfrecords import print_summary

        manifest = {"classes": [{"id": 0, "name": "건물화재", "num_images": 12},
                                {"id": 1, "name": "flood", "num_images": 7}],
                    "num_images": 19, "rejected": [], "shards": ["s"], "resolution": 16,
                    "seconds": 1.0}
        out = io.StringIO()
        print_summary(manifest, stream=out)
        rows = out.getvalue().splitlines()[:4]
        # The "kept" column ends at the same terminal column on every row.
        ends = {display_width(row[: row.index("kept") + 4]) if "kept" in row else None
                for row in rows[:1]}
        kept_end = ends.pop()
        for row in rows[1:]:
            number = row.split()[-2]
            self.assertEqual(display_width(row[: row.index(number, 5) + len(number)]),
                             kept_end, row)


if __name__ == "__main__":
    tf.test.main()
