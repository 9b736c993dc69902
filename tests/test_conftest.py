"""The test session leaves nothing behind: every temporary folder lives under one folder
that tests/conftest.py removes when each test process exits."""

import os
import tempfile

import tensorflow as tf

from tests import conftest


class SessionTempTest(tf.test.TestCase):
    def test_temp_folders_live_under_the_session_folder(self):
        root = os.path.realpath(conftest.SESSION_TMP)
        for path in (self.get_temp_dir(), tempfile.mkdtemp(), tempfile.gettempdir()):
            self.assertTrue(os.path.realpath(path).startswith(root), path)
        self.assertEqual(os.environ["TMPDIR"], conftest.SESSION_TMP)  # spawned scripts too

    def test_the_exit_hook_removes_it(self):
        stand_in = tempfile.mkdtemp()  # inside the real one
        os.makedirs(os.path.join(stand_in, "run", "checkpoints"))
        with open(os.path.join(stand_in, "run", "checkpoints", "x.txt"), "w") as handle:
            handle.write("x")
        conftest.remove_session_tmp(stand_in)
        self.assertFalse(os.path.exists(stand_in))


if __name__ == "__main__":
    tf.test.main()
