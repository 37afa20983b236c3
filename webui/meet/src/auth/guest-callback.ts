// The page the guest sign-in iframe lands on: hands its URL (the authorize answer is in the
// fragment) to the app in the parent window — only to our own origin — and forgets it.
if (window.parent !== window) {
  window.parent.postMessage({ source: 'palaver-guest-callback', url: location.href }, location.origin);
}
history.replaceState(null, '', location.pathname);
