// Where a page feature plugs in. A feature is one module that adds to these lists when it is
// imported (features.js imports every one); the page draws whatever the lists hold. Nothing
// here depends on any feature, so a new feature is a new file plus one line in features.js.

export const hooks = {
  // (segment) => node or "": shown under a segment's English (the words in time, a suggestion).
  segmentParts: [],
  // (segment) => button or "": in a segment's row of actions.
  segmentButtons: [],
  // (label, data) => button or "": beside a speaker's name in the speaker bar.
  speakerButtons: [],
  // (data) => node or "": under the player (the press officer's buttons).
  interviewTools: [],
  // (data) => called after the interview is drawn or drawn again.
  rendered: [],
  // (seconds) => called as the recording plays.
  playback: [],
  // async () => node: sections under the list of interviews (an admin's accounts).
  listSections: [],
  // { key: "Alt+t", label: "re-translate", shown: "Alt+T", run: (segment, index) => ... }: one
  // entry per key, used both by the key handler and by the list of keys shown on the page.
  keys: [],
};

export function addKeys(...entries) {
  hooks.keys.push(...entries);
}
