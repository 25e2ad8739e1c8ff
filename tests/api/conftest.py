import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "storage"))

from follicle_dbs import database_url, postgres_url  # noqa: F401  (fixtures)
