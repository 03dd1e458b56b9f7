"""Runs a job through the stages: audio, speech recognition, translation, outbox files.

Outputs are written into a staging folder and moved into place file by file (each move
atomic), and the job is marked done only after that, so a process killed at any moment
leaves either the previous complete files or the new ones, and its job is retried.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import platform
import shutil
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path
from typing import Callable

from . import asr, media, models, search, speakers, transcript, versions
from .config import Settings
from .hashing import sha256_file
from .outbox import FAILED_FILE, PROVENANCE_FILE, output_dir
from .reviewed_lock import reviewed_lock
from .store import Job, Store, now
from .translate import TranslationError, Translator, add_command_hint

log = logging.getLogger(__name__)

Reporter = Callable[[Job, str, float], None]
# Carries a started review over to a retranscribed interview's new transcript (review/rebase.py);
# returns what it kept, for the custody entry. Given by the callers: review sits above this layer.
ReviewCarrier = Callable[[Settings, Job, versions.Version], "dict | None"]
# The job's meta key while a retranscription is pending (pipeline/retranscribe.py).
RETRANSCRIBE = "retranscribe"

# Share of a job's progress bar that each stage fills.
STAGES = {
    "audio": (0.0, 0.05),
    "transcribe": (0.05, 0.9),
    "translate": (0.9, 0.98),
    "write": (0.98, 1.0),
}


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for dist in (
        "testimony-pipeline",
        "openai-whisper",
        "faster-whisper",
        "torch",
        "argostranslate",
        "ctranslate2",
        "ffmpeg-python",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    versions["ffmpeg"] = media.ffmpeg_binary()
    return versions


class JobRunner:
    """Runs jobs from the store through the stages; keeps the loaded model between jobs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        reporter: Reporter | None = None,
        carry_review: ReviewCarrier | None = None,
    ):
        self.settings = settings
        self.store = store
        self.reporter = reporter
        self.carry_review = carry_review
        self._model = None
        self._model_key: str | None = None
        self._last_report = 0.0

    # Progress ------------------------------------------------------------------------
    def _progress(self, job: Job, stage: str, fraction: float) -> None:
        low, high = STAGES[stage]
        overall = low + (high - low) * fraction
        if self.reporter:
            self.reporter(job, stage, overall)
        moment = time.monotonic()
        if fraction in (0.0, 1.0) or moment - self._last_report >= 1.0:
            self.store.update(job.id, stage=stage, progress=round(overall, 3))
            self._last_report = moment

    # Jobs ----------------------------------------------------------------------------
    def run_next(self) -> Job | None:
        """Claim and run the oldest queued job; return it (finished), or None when idle."""
        job = self.store.claim()
        if job is None:
            return None
        return self.run(job)

    def run(self, job: Job) -> Job:
        try:
            self._process(job)
        except media.MediaError as exc:
            self._fail(job, str(exc))
        except models.ModelError as exc:
            self._fail(job, str(exc))
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                self._wait_for_space(job)
                return self.store.job(job.id)
            log.error("job %s failed:\n%s", job.interview_id, traceback.format_exc())
            self._fail(
                job, f"internal error ({type(exc).__name__}); details in {self.settings.log_file}"
            )
        return self.store.job(job.id)

    def _wait_for_space(self, job: Job) -> None:
        """A full disk is not the recording's fault: the job goes back to the queue, uncounted."""
        reason = (
            f"the disk holding {self.settings.home} is full; free some space and the job "
            f"continues by itself"
        )
        self.store.finish(
            job.id,
            dict(state="queued", owner=None, attempts=max(job.attempts - 1, 0), error=reason),
            "waiting",
            sha256=job.sha256,
            interview_id=job.interview_id,
            reason="disk full",
        )
        log.warning("disk full while processing %s; queued again", job.interview_id)

    def _fail(self, job: Job, reason: str) -> None:
        # The note first: whoever sees the job failed (status, a script) finds the note beside it.
        note = (
            f"Interview {job.interview_id} (case {job.case_id}) could not be processed.\n\n{reason}\n\n"
            f"The original recording is safe and unchanged in the evidence store:\n"
            f"  {job.evidence_path}\n  SHA-256 {job.sha256}\n\n"
            f"After fixing the cause, run: testimony retry {job.interview_id}\n"
        )
        transcript.write_atomic(output_dir(self.settings, job) / FAILED_FILE, note)
        self.store.finish(
            job.id,
            dict(state="failed", error=reason, owner=None),
            "failed",
            sha256=job.sha256,
            interview_id=job.interview_id,
            reason=reason,
        )
        log.warning("failed %s: %s", job.interview_id, reason)

    def _load_model(self, job: Job) -> tuple[object, str, str | None, str]:
        """The engine with the model for the job's language ([asr.models], else the default
        model), or the model a retranscription asked for."""
        settings, language = self.settings, job.language
        asked = (job.meta.get(RETRANSCRIBE) or {}).get("model")
        if asked:
            settings = dataclasses.replace(settings, whisper_model=asked, language_models=())
        engine = asr.engine_name(settings)
        name = models.model_for_language(settings, language)
        checkpoint, sha = models.resolve_for_engine(settings, engine, language=language)
        if self.settings.broker:  # workers load it, found by its SHA-256 (pipeline/cluster/)
            from .cluster.coordinator import RemoteModel

            if not sha:
                raise models.ModelError(
                    f"model {name!r} must be installed here (testimony models add) "
                    f"so that workers can be sent its SHA-256"
                )
            return RemoteModel(engine, sha, self.settings.asr_compute_type), checkpoint, sha, name
        if self._model_key != f"{engine}|{checkpoint}":
            self._model = asr.load_model(
                checkpoint, self.settings.threads, engine, self.settings.asr_compute_type
            )
            self._model_key = f"{engine}|{checkpoint}"
        return self._model, checkpoint, sha, name

    def _process(self, job: Job) -> None:
        timings: dict[str, float] = {}
        started = now()
        work = self.settings.work / job.interview_id
        log.info("processing %s (case %s)", job.interview_id, job.case_id)

        t0 = time.monotonic()
        self._progress(job, "audio", 0.0)
        wav = work / "audio.wav"
        if not wav.exists():  # written atomically, so one that exists is whole (a resumed job)
            media.extract_audio(Path(job.evidence_path), wav)
        duration = media.wav_seconds(wav)
        timings["audio_s"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        self._progress(job, "transcribe", 0.0)
        model, checkpoint, model_sha, model_name = self._load_model(job)
        timings["model_load_s"] = round(time.monotonic() - t0, 2)
        names = job.meta.get("names")
        prompt = ", ".join(names) if names else None
        options = asr.decode_options(self.settings, asr.native_languages(self.settings, model_name))
        transcribe_file = asr.transcribe_file
        if self.settings.broker:
            from .cluster.coordinator import dispatcher

            transcribe_file = dispatcher(self.settings, self.store, job)
        request = job.meta.get(RETRANSCRIBE)
        key = asr.resume_key(model, model_sha or checkpoint, options, prompt)
        if request:  # its pieces are its own, even with the model and options of the last run
            key += json.dumps(["retranscription", request["requested_at"]])
        recognition = transcribe_file(
            model,
            wav,
            job.language,
            resume_dir=work / "pieces",
            chunk_seconds=self.settings.piece_seconds,
            resume_key=key,
            progress=lambda f: self._progress(job, "transcribe", f),
            initial_prompt=prompt,
            options=options,
        )
        timings["transcribe_s"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        segments, speaker_info = recognition.segments, {}
        if self.settings.speakers and segments:
            count = job.meta.get("speakers") or self.settings.speaker_count or None
            segments, speaker_info = speakers.diarise(media.load_wav(wav), segments, count)
        timings["speakers_s"] = round(time.monotonic() - t0, 2)

        t0 = time.monotonic()
        self._progress(job, "translate", 0.0)
        status = translate_segments(Translator(self.settings), segments)
        timings["translate_s"] = round(time.monotonic() - t0, 2)

        self._progress(job, "write", 0.0)
        result = transcript.Transcript(
            interview_id=job.interview_id,
            case_id=job.case_id,
            language=recognition.language,
            detected_languages=recognition.detected,
            translation=status,
            segments=segments,
            source={
                "file": job.original_name,
                "sha256": job.sha256,
                "duration_s": round(duration, 3),
                "evidence_path": job.evidence_path,
            },
            interview={k: v for k, v in job.meta.items() if k != "case_id"},
            warnings=[*media.extraction_warnings(wav), *recognition.warnings],
            speakers=speaker_info,
        )
        provenance = {
            "interview_id": job.interview_id,
            "case_id": job.case_id,
            "source": {
                "file": job.original_name,
                "sha256": job.sha256,
                "evidence_path": job.evidence_path,
            },
            "model": {
                "engine": model.name,
                "name": model_name,
                "checkpoint": checkpoint,
                "sha256": model_sha,
            },
            "translation": status,
            "options": {
                "language": job.language,
                "decoded_as": asr.WHISPER_STANDIN.get(recognition.language, recognition.language),
                "condition_on_previous_text": False,
                "temperature_fallback": self.settings.temperature_fallback,
                "voice_activity_detection": options.vad,
                "beam_size": options.beam_size,
                "cyrillic_only": recognition.language in asr.CYRILLIC,
                "native_languages": list(options.native),
                "prompt_names": names or [],
                "word_timestamps": True,
                "speakers": {k: v for k, v in speaker_info.items() if k != "names"},
            },
            "software": _versions(),
            "host": platform.node(),
            "argv": sys.argv,
            "started_at": started,
            "finished_at": now(),
            "timings": timings,
        }
        again = self._keep_version(job) if request else {}
        replaced = versions.subtitles_of(again["kept"]) if again else ()
        publish(self.settings, job, result, provenance, replaced)
        if again and self.carry_review:
            again["review"] = self.carry_review(self.settings, job, again.pop("kept"))
        again.pop("kept", None)
        shutil.rmtree(work, ignore_errors=True)
        meta = {k: v for k, v in job.meta.items() if k != RETRANSCRIBE}
        self.store.finish(
            job.id,
            dict(
                state="done",
                stage=None,
                progress=1.0,
                owner=None,
                translation=status["status"],
                output_dir=str(output_dir(self.settings, job)),
                meta=meta,
            ),
            "processed",
            sha256=job.sha256,
            interview_id=job.interview_id,
            engine=model.name,
            model=model_name,
            model_sha256=model_sha,
            options=provenance["options"],
            translation=status["status"],
            timings=timings,
            **({"retranscription": again} if again else {}),
            outputs={
                name: sha256_file(output_dir(self.settings, job) / name)
                for name in transcript.rendered_files(result)
            },
        )
        self._progress(job, "write", 1.0)
        log.info("done %s -> %s", job.interview_id, output_dir(self.settings, job))

    def _keep_version(self, job: Job) -> dict:
        """Keep the transcript being replaced as a numbered version, once per request (a run that
        was interrupted after this keeps the same one)."""
        request = job.meta[RETRANSCRIBE]
        folder = output_dir(self.settings, job)
        if request.get("kept") is None:
            kept = versions.keep(folder)
            request = {**request, "kept": kept.number if kept else 0}
            job.meta = {**job.meta, RETRANSCRIBE: request}
            self.store.update(job.id, meta=job.meta)
        found = {v.number: v for v in versions.listing(folder)}.get(request["kept"])
        if found is None:
            return {}
        return {
            "version_kept": found.number,
            "requested_by": request.get("by"),
            "kept": found,
            "previous": {
                "engine": found.made.engine,
                "model": found.made.name,
                "model_sha256": found.made.sha256,
                "options": found.made.options,
            },
        }


def translate_segments(translator: Translator, segments: list[transcript.Segment]) -> dict:
    """Fill in English where a package exists; mark the rest missing with how to add one."""
    missing: set[str] = set()
    packages: dict[str, str | None] = {}
    for seg in segments:
        if seg.english is not None:
            continue
        if not translator.available(seg.language):
            missing.add(seg.language)
            if transcript.MISSING_TRANSLATION_FLAG not in seg.flags:
                seg.flags.append(transcript.MISSING_TRANSLATION_FLAG)
            continue
        try:
            seg.english = translator.translate(seg.text, seg.language)
        except TranslationError:
            missing.add(seg.language)
            continue
        packages[seg.language] = translator.describe(seg.language)
        if transcript.MISSING_TRANSLATION_FLAG in seg.flags:
            seg.flags.remove(transcript.MISSING_TRANSLATION_FLAG)
    if not missing:
        return {"status": "done", "engine": "argostranslate", "packages": packages}
    return {
        "status": "missing",
        "engine": "argostranslate",
        "packages": packages,
        "missing_languages": sorted(missing),
        "how_to_fix": " ".join(add_command_hint(lang) for lang in sorted(missing)),
    }


def publish(
    settings: Settings,
    job: Job,
    result: transcript.Transcript,
    provenance: dict,
    replaced: tuple[str, ...] = (),
) -> Path:
    """Write the outbox files: staged first, then each moved into place atomically. ``replaced``:
    the old transcript's subtitles, kept in its version; those the new files do not overwrite
    (another language) are removed so the outbox holds only the current transcript's."""
    final = output_dir(settings, job)
    staging = final.parent / f".{job.interview_id}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    files = transcript.rendered_files(result)
    if transcript.withholds(final):  # no machine subtitles that name withheld people
        files = {
            name: content for name, content in files.items() if not name.endswith((".srt", ".vtt"))
        }
    files[PROVENANCE_FILE] = json.dumps(provenance, ensure_ascii=False, indent=2) + "\n"
    for name, content in files.items():
        transcript.write_atomic(staging / name, content)
    final.mkdir(parents=True, exist_ok=True)
    # transcript.json moves last: once it is new, everything rendered from it is too.
    for name in sorted(files, key=lambda n: n == transcript.MACHINE_FILE):
        (staging / name).replace(final / name)
    for name in set(replaced) - set(files):
        (final / name).unlink(missing_ok=True)
    (final / FAILED_FILE).unlink(missing_ok=True)
    staging.rmdir()
    search.update(settings.database, final)
    return final


def translate_pending(settings: Settings, store: Store) -> list[Job]:
    """Translate the segments of finished jobs that were written without English."""
    translator = Translator(settings)
    updated = []
    for job in store.jobs("done"):
        if job.translation != "missing":
            continue
        path = output_dir(settings, job) / transcript.MACHINE_FILE
        result = transcript.load(path)
        before = result.translation.get("packages", {})
        result.translation = translate_segments(translator, result.segments)
        result.translation["packages"] = {**before, **result.translation["packages"]}
        if result.translation["packages"] == before:
            continue
        provenance_path = output_dir(settings, job) / PROVENANCE_FILE
        provenance = json.loads(provenance_path.read_text(encoding="utf-8"))
        provenance["translation"] = {**result.translation, "translated_at": now()}
        publish(settings, job, result, provenance)
        reviewed = _translate_reviewed(translator, output_dir(settings, job))
        store.finish(
            job.id,
            dict(translation=result.translation["status"]),
            "translated",
            sha256=job.sha256,
            interview_id=job.interview_id,
            packages=result.translation["packages"],
            **({"reviewed": reviewed} if reviewed else {}),
        )
        updated.append(store.job(job.id))
    return updated


def _translate_reviewed(translator: Translator, folder: Path) -> dict | None:
    """Fill in the English a started review still lacks; English a person wrote is never touched.

    Only segments with no English at all are translated, from the reviewed text (a reviewer may
    have corrected it), under the lock every writer of reviewed.json holds.
    """
    path = folder / transcript.REVIEWED_FILE
    if not path.exists():
        return None
    with reviewed_lock(folder):
        t = transcript.load(path)
        before = [s.english for s in t.segments]
        status = translate_segments(translator, t.segments)
        filled = [
            s.id for s, old in zip(t.segments, before) if old is None and s.english is not None
        ]
        if not filled:
            return None
        t.translation = {
            **t.translation,
            "status": status["status"],
            "packages": {**t.translation.get("packages", {}), **status["packages"]},
        }
        transcript.write_atomic(path, t.to_json())
    log.info("reviewed.json of %s: English filled in for segment(s) %s", folder.name, filled)
    return {"file": str(path), "segments": filled, "sha256": sha256_file(path)}
