"""sFTP drop box for partner files: a real loopback server and a client that uploads, lists and downloads."""

import logging

from harness.errors import TransferError
from harness.transfer.client import Account, download, listdir, upload
from harness.transfer.server import Received, SftpServer

# asyncssh logs every connection and SFTP session at INFO; the harness console is for results.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

__all__ = ["Account", "Received", "SftpServer", "TransferError", "download", "listdir", "upload"]
