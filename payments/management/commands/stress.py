"""The 4-bank stress test against a running server: load, live progress, report, reconciliation."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from payments.stress.run import StressOptions, stress_run, summary_lines


class Command(BaseCommand):
    help = (
        "Send the seed's 4-bank payment mix to a running DelTran server (JSON micro-batches, pacs.008 and single "
        "payments) at a target rate for a duration, print progress every interval, then reconcile and write a JSON "
        "and HTML report. Run it with the server's DATABASE_URL: the report and the reconciliation read its database."
    )

    def add_arguments(self, parser):
        d = StressOptions()
        parser.add_argument("--url", default=d.url, help=f"the server (default {d.url})")
        parser.add_argument("--rate", type=float, default=d.rate, help="target payments/s (default 3000)")
        parser.add_argument("--duration", type=float, default=d.duration, help="seconds of sending (default 300)")
        parser.add_argument("--ramp", type=float, default=d.ramp, help="ramp-up seconds (default 30)")
        parser.add_argument("--interval", type=float, default=d.interval, help="progress interval s (default 5)")
        parser.add_argument("--connections", type=int, default=d.connections, help="keep-alive connections (4)")
        parser.add_argument("--batch-size", type=int, default=d.batch_size, help="payments per micro-batch (50)")
        parser.add_argument("--single-share", type=float, default=d.single_share, help="share sent singly (0.02)")
        parser.add_argument(
            "--pacs008-share", type=float, default=d.pacs008_share, help="share of batched payments sent as pacs.008"
        )
        parser.add_argument("--listed-share", type=float, default=d.listed_share, help="share naming a listed party")
        parser.add_argument(
            "--pressure-every", type=int, default=d.pressure_every, help="payments between liquidity bursts (0: none)"
        )
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--username", default=d.username)
        parser.add_argument("--password", default=d.password)
        parser.add_argument("--no-reconcile", action="store_true", help="skip the reconciliation")
        parser.add_argument("--out-dir", type=Path, help="where the reports go (default $DELTRAN_VAR_DIR/stress)")

    def handle(self, *args, **o):
        if o["rate"] <= 0 or o["duration"] <= 0 or o["connections"] < 1 or o["batch_size"] < 1:
            raise CommandError("--rate, --duration, --connections and --batch-size must be positive.")
        options = StressOptions(
            url=o["url"].rstrip("/"),
            rate=o["rate"],
            duration=o["duration"],
            ramp=o["ramp"],
            interval=o["interval"],
            connections=o["connections"],
            batch_size=o["batch_size"],
            single_share=o["single_share"],
            pacs008_share=o["pacs008_share"],
            listed_share=o["listed_share"],
            pressure_every=o["pressure_every"],
            seed=o["seed"],
            username=o["username"],
            password=o["password"],
            reconcile=not o["no_reconcile"],
            out_dir=o["out_dir"],
        )
        report = stress_run(options=options, log=lambda line: self.stdout.write(line))
        for line in summary_lines(report):
            self.stdout.write(line)
        reconciliation = report["reconciliation"]
        if reconciliation is not None and not reconciliation["ok"]:
            raise CommandError("The reconciliation found problems (see the report).")
