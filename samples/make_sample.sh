#!/usr/bin/env bash
# How samples/KZ-0001_sample-interview.mp4 was built (kept for provenance; not run by the tool).
# Joins the CC BY interview clips 17-24 of the Kazakh code-switching benchmark into one
# filmed-interview-like video: the speech as AAC, a waveform picture as H.264.
set -euo pipefail
src=${1:-../../shared/evaldata/kk/kaz_codeswitch}
ff=$(command -v ffmpeg || python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')
inputs=(); chain=""
for i in 17 18 19 20 21 22 23 24; do
  inputs+=(-i "$src/kzaudio_$i.wav"); chain+="[$(( i - 17 )):a]"
done
"$ff" -y -hide_banner -loglevel error "${inputs[@]}" -filter_complex \
  "${chain}concat=n=8:v=0:a=1,aresample=44100,aformat=channel_layouts=mono,asplit[a][w];[w]showwaves=s=480x270:mode=cline:rate=10:colors=0x8fbcd4[v]" \
  -map "[v]" -map "[a]" -c:v libx264 -preset veryslow -crf 32 -pix_fmt yuv420p -c:a aac -b:a 64k \
  -metadata title="Sample interview (CC BY, see ATTRIBUTION.md)" -movflags +faststart \
  KZ-0001_sample-interview.mp4
