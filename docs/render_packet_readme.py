"""Render a press packet's README.txt as a page, for docs/packet-readme.png.

    python docs/render_packet_readme.py PACKET.zip readme.html
    chromium --headless --no-sandbox --hide-scrollbars --screenshot=docs/packet-readme.png \
        --window-size=1120,1150 file://$PWD/readme.html
"""

import html
import sys
import zipfile

STYLE = """body { margin: 0; background: #e9e9e9; }
pre { font: 12.5px/1.45 "DejaVu Sans Mono", monospace; background: white; margin: 24px auto;
      padding: 28px 34px; width: max-content; box-shadow: 0 1px 4px rgba(0,0,0,.25); white-space: pre; }"""


def main(packet: str, out: str) -> None:
    text = zipfile.ZipFile(packet).read("README.txt").decode("utf-8")
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(
            f'<!doctype html><meta charset="utf-8"><style>{STYLE}</style><pre>{html.escape(text)}</pre>'
        )


if __name__ == "__main__":
    main(*sys.argv[1:3])
