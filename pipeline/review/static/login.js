// A link to one segment (/interviews/ID#segment-N) keeps its #segment-N through the login:
// the browser never sends the part after # to the server, so the form carries it.
const next = document.querySelector('form.login input[name="next"]');
if (next && /^#segment-\d+$/.test(location.hash)) next.value += location.hash;
