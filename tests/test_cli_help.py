"""`testimony --help` groups every command under one workflow panel, in a fixed order."""

from typer.main import get_command

from pipeline.cli import PANELS, app


def test_every_command_sits_in_a_workflow_panel_in_order():
    group = get_command(app)
    names = group.list_commands(None)
    panels = [getattr(group.commands[n], "rich_help_panel", None) for n in names]
    assert all(p in PANELS for p in panels), dict(
        zip(names, panels)
    )  # a new command names its panel
    assert panels == sorted(panels, key=PANELS.index)
    assert {
        "process",
        "review",
        "reviewers",
        "export",
        "keys",
        "search",
        "worker",
        "models",
        "bench",
    } <= set(names)


def test_help_shows_the_panels_in_order(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert all(f"─ {p} ─" in result.output for p in PANELS)
    where = [result.output.index(f"─ {p} ─") for p in PANELS]
    assert where == sorted(where)
