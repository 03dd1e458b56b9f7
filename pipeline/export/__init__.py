"""Export for newsrooms (issue 5): DOCX, PDF, subtitles, subtitled video and a press packet,
with withheld names and passages removed. `core` decides; the other modules render."""
