// The rooms part's entry points for the app shell and the main screen.
import { useState } from 'preact/hooks';
import type { MeetConfig } from '../../config';
import type { Auth } from '../../auth/oidc';
import type { FragmentParams } from '../../fragment';
import type { Route } from '../../router';
import { t } from '../../i18n';
import { JoinGroupDialog } from './JoinGroupDialog';
import { JoinWizard } from './JoinWizard';

export { RoomPage } from './RoomPage';
export { JoinWizard } from './JoinWizard';
export { JoinGroupDialog } from './JoinGroupDialog';
export { bootRooms, isGuestVisit, guestRedirect, sendGuestBack } from './boot';
export { setRoomRecentsHook } from './session';

/** "Join or create group": the button and its dialog (for the main screen's "new call"). */
export function JoinGroupButton({ config, class: cls }: { config: MeetConfig; class?: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" class={cls ?? 'rooms-open-join'} onClick={() => setOpen(true)} data-testid="open-join-group">
        {t('roomsJoinOrCreate')}
      </button>
      {open && <JoinGroupDialog config={config} onClose={() => setOpen(false)} />}
    </>
  );
}

/** Nobody signed in, a guest link: the join wizard as a guest (App's boot state "guest"). */
export function GuestJoin({ config, auth, route, params }: { config: MeetConfig; auth: Auth; route: Route; params: FragmentParams }) {
  if (route.view !== 'room' && route.view !== 'join') return null;
  return <JoinWizard config={config} auth={auth} user={null} scope={route.scope} id={route.id} params={params} />;
}
