// Offers "merge S3 into S1" where the speaker step found two voices close: the voice step may
// have split one person in two. One click asks, then merges the labels in every segment as one
// audited edit (POST /api/interviews/{id}/merge-speakers; the server checks the role).
// Self-contained ES module: review.js announces each render with a "testimony:rendered" event
// ({ data, reviewer, canEdit }); this module draws its own bar after the speakers bar.

const BAR_ID = "speaker-merge";

function button(label, onclick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "merge-speakers";
  node.textContent = label;
  node.addEventListener("click", onclick);
  return node;
}

async function merge(interviewId, pair, reviewer) {
  const question = `Merge ${pair.merge} into ${pair.keep} in every segment? (audited)`;
  if (!confirm(question)) return;
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const reply = await fetch(`/api/interviews/${encodeURIComponent(interviewId)}/merge-speakers`, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
    body: JSON.stringify({ merge: pair.merge, into: pair.keep, reviewer }),
  });
  if (reply.ok) { location.reload(); return; }
  let message = "The merge failed.";
  try { message = (await reply.json()).error || message; } catch (e) { /* no JSON body */ }
  alert(message);
}

export function mergeBar({ data, reviewer, canEdit }) {
  const bar = document.createElement("div");
  bar.id = BAR_ID;
  bar.className = "speaker-merge";
  const pairs = (data.close_speakers || []);
  if (!canEdit || !pairs.length) { bar.hidden = true; return bar; }
  bar.append("Voices that sound alike (the speaker step is unsure): ");
  for (const pair of pairs) {
    const act = () => merge(data.interview_id, pair, reviewer);
    const node = button(`Merge ${pair.merge} into ${pair.keep}`, act);
    node.title = `voice distance ${pair.distance} (0 = the same voice)`;
    bar.append(node, " ");
  }
  return bar;
}

document.addEventListener("testimony:rendered", (event) => {
  const old = document.getElementById(BAR_ID);
  const bar = mergeBar(event.detail);
  if (old) old.replaceWith(bar);
  else document.getElementById("speakers")?.after(bar);
});
