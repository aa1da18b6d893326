"""cleaning.py's summary of the rows read: the counts for quality.json and the per-file drops, in one Spark job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import demo_data
import pytest
from cleaning import RowCleaner
from features import FeatureSpec
from hadoop_storage import HadoopStorage
from landing import LandingReader, LandingWindow

START = demo_data.DEFAULT_START


@pytest.mark.spark
def test_the_summary_and_each_files_drops_come_from_one_pass(
    spark: Any, tmp_path: Path, dataset: dict[str, Any]
) -> None:
    days = [START + timedelta(days=n) for n in range(2)]
    records = 0
    for day in days:
        folder = tmp_path / demo_data.partition_name(day)
        folder.mkdir()
        content = demo_data.day_csv(day, rows=300)
        (folder / "part-00000.csv").write_bytes(content)
        records += len(content.splitlines()) - 1  # the header aside
    spec = FeatureSpec.from_dataset(dataset)
    window = LandingWindow(tmp_path.as_uri() + "/", "csv", days[0], days[-1])
    batch = LandingReader(spark, HadoopStorage(spark), spec, window).read()
    cleaner = RowCleaner(spec)
    reasoned = cleaner.with_reasons(cleaner.parse(batch)).cache()
    try:
        reasoned.count()  # the read and the window, before the pass measured
        tracker = spark.sparkContext.statusTracker()
        # One aggregation's Spark jobs (with adaptive execution: its shuffle's map stage, then its result).
        spark.sparkContext.setJobGroup("one", "one aggregation")
        reasoned.groupBy("__source_file").count().collect()
        spark.sparkContext.setJobGroup("summary", "the cleaning summary")
        summary, files = cleaner.summarize(reasoned)
        one, jobs = tracker.getJobIdsForGroup("one"), tracker.getJobIdsForGroup("summary")
    finally:
        spark.sparkContext.setJobGroup("", "")
        reasoned.unpersist()

    assert len(jobs) == len(one)
    # The per-file figures are those of the whole read, file by file; duplicates count as rows, not drops.
    assert sorted(Path(uri).parent.name for uri in files) == [demo_data.partition_name(day) for day in days]
    assert sum(found.rows for found in files.values()) == summary.rows_read == records
    per_file = {reason: sum(found.dropped.get(reason, 0) for found in files.values()) for reason in summary.dropped}
    assert per_file == {reason: 0 if reason == "duplicate_id" else count for reason, count in summary.dropped.items()}
    assert summary.dropped and summary.rows_kept < summary.rows_read
