#!/usr/bin/env bash
# How the clips in this folder were made (kept for provenance; not run by the tests): the CC BY
# interview clips 17-24 of the Kazakh code-switching benchmark, as 16 kHz mono FLAC, which is the
# form the pipeline turns every recording into before Whisper hears it.
set -euo pipefail
src=${1:-../../../../shared/evaldata/kk}
ff=$(command -v ffmpeg || python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')
for i in 17 18 19 20 21 22 23 24; do
  "$ff" -y -hide_banner -loglevel error -i "$src/kaz_codeswitch/kzaudio_$i.wav" -ac 1 -ar 16000 \
    -sample_fmt s16 -c:a flac -compression_level 12 -map_metadata -1 -fflags +bitexact "kzaudio_$i.flac"
done
{ head -1 "$src/references.tsv"
  grep -P '^kaz_codeswitch/kzaudio_(1[7-9]|2[0-4])\.wav' "$src/references.tsv" |
    sed -E 's#^kaz_codeswitch/(kzaudio_[0-9]+)\.wav#\1.flac#'; } > references.tsv
