"""sFTP drop box for partner invoice files: a real loopback server and an upload client."""

import logging

from harness.errors import TransferError
from harness.transfer.client import upload
from harness.transfer.server import Received, SftpServer

# asyncssh logs every connection and SFTP session at INFO; the harness console is for results.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

__all__ = ["Received", "SftpServer", "TransferError", "upload"]
