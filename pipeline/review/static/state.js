// The interview open on the page: one object, shared by the modules that draw and play it.
export const view = { id: null, data: null, segs: [], player: null, playing: null, focused: null };

export function isFlagged(s) {
  return s.data.flags.length > 0 && !s.data.reviewed;
}

export function current() {
  return view.focused || view.playing || view.segs[0];
}
