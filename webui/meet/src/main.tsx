import { render } from 'preact';
import { App } from './ui/App';
import { parseFragment, takeFragment } from './fragment';
import { language } from './i18n';
import './styles.css';

document.documentElement.lang = language();
// Fragment parameters are read once, then removed from the address bar (fragment.ts).
const params = parseFragment(takeFragment());
render(<App params={params} />, document.getElementById('app')!);
