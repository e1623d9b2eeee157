"""What every command needs to know about how it was invoked: program name, launcher, flags."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoal.cli.quick_start import HeadStart
    from shoal.config.site import Site


@dataclass
class CliContext:
    program: str = "shoal"
    launcher_prefix: Path | None = None
    debug: bool = False
    #: The master `admin start`'s quick path spawned (shoal.cli.quick_start), for it to adopt.
    head_start: HeadStart | None = None

    def site(self) -> Site:
        """The site this invocation works on (SHOAL_HOME, the launcher's real path, the cwd)."""
        from shoal.config.site import find_site  # not at import: `shoal --help` needs no site

        return find_site(
            self.program,
            os.environ,
            Path.cwd(),
            launcher_prefix=self.launcher_prefix,
        )
