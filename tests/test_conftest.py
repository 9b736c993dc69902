"""The test session leaves nothing behind: every temporary folder lives under one folder
that tests/conftest.py removes when each test process exits."""

import os
import tempfile

import tensorflow as tf

from tests import conftest
from tests.fixtures import REPO


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


class SlowFirstTest(tf.test.TestCase):
    def test_every_slow_first_file_exists(self):
        # A renamed file would silently drop out of the ordering.
        for path in conftest.SLOW_FIRST:
            self.assertTrue(os.path.isfile(os.path.join(REPO, path)), path)

    def test_the_slowest_file_is_collected_first(self):
        ids = [f"{path}::X::test_a" for path in ("tests/test_api.py", conftest.SLOW_FIRST[1],
                                                 conftest.SLOW_FIRST[0])]

        class Item:
            def __init__(self, nodeid):
                self.nodeid, self.name = nodeid, nodeid.rsplit("::", 1)[1]

        items = [Item(i) for i in ids]
        conftest.pytest_collection_modifyitems(None, items)
        self.assertEqual([item.nodeid for item in items], [ids[2], ids[1], ids[0]])


if __name__ == "__main__":
    tf.test.main()
