// A contact's photo where the directory has one, else their initials (groups: the group mark).
import { useEffect, useState } from 'preact/hooks';
import { initials } from '../../api/gc';
import type { HomeStore } from './store';

export function Avatar({ store, photoId, name, group, large }: { store?: HomeStore | null; photoId?: string; name: string; group?: boolean; large?: boolean }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setSrc(null);
    if (store?.directory && photoId && !group) void store.directory.photo(photoId).then((u) => live && setSrc(u));
    return () => {
      live = false;
    };
  }, [store, photoId, group]);
  const cls = `avatar${large ? ' avatar-lg' : ''}${group ? ' avatar-group' : ''}`;
  if (src) return <img class={cls} src={src} alt="" data-testid="avatar-photo" />;
  return (
    <span class={cls} aria-hidden="true">
      {group ? '#' : initials(name)}
    </span>
  );
}
