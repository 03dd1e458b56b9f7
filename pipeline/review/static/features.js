// Every feature of the page, one module each: importing one lets it add itself to extend.js's
// lists. A new feature is a new file and one line here.
import "./playback.js";
import "./words.js";
import "./speakers.js";
import "./speaker_merge.js";
import "./actions.js";
import "./press.js";
import "./accounts.js";
import "./search.js";
import "./suggestions.js";
import "./keys.js";
