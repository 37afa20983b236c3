// The contract between the call engine (kwm signaling + WebRTC, src/kwm and src/call) and the
// screens. Screens read EngineState and call the methods; they never touch RTCPeerConnection or
// the signaling socket. The engine is created once per signed-in user (see EngineContext).
import { createContext } from 'preact';

export interface PeerInfo {
  /** kwm user id (the gc record id unless useIdentifiedUser). */
  id: string;
  name?: string;
}

export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

export interface RemoteParticipant {
  id: string;
  name: string;
  guest: boolean;
  stream: MediaStream | null;
  screen: MediaStream | null;
  quality: Quality;
  speaking: boolean;
  handRaised: boolean;
  connection: 'connecting' | 'connected' | 'reconnecting' | 'failed';
  /** What the participant says it sends (its camera and microphone switches). */
  micOn: boolean;
  camOn: boolean;
}

export type CallStatus =
  | { kind: 'idle' }
  /** Ringing the callee (the manual's hourglass and moving bar). */
  | { kind: 'outgoing'; peer: PeerInfo }
  /** Being called: accept, decline (the caller is told) or ignore (the caller is not told). */
  | { kind: 'incoming'; peer: PeerInfo }
  | { kind: 'call'; peer: PeerInfo }
  | { kind: 'room'; scope: 'group' | 'conference'; id: string };

export interface ChatMessage {
  id: string;
  from: string;
  fromName: string;
  text: string;
  at: number;
  own: boolean;
  /** A server notice: someone joined or left (fromName is who). */
  system?: 'joined' | 'left';
}

export type EndReason = 'hangup' | 'declined' | 'busy' | 'no-answer' | 'failed' | 'answered-elsewhere';

export interface EngineState {
  signaling: 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'denied';
  status: CallStatus;
  participants: RemoteParticipant[];
  local: { stream: MediaStream | null; screen: MediaStream | null; micOn: boolean; camOn: boolean; handRaised: boolean };
  chat: ChatMessage[];
  /** Why the last call ended (shown briefly), cleared by the next call. */
  ended?: { reason: EndReason; peer?: PeerInfo };
  /** A user-facing problem (camera denied, call failed, …) as a message key of the call feature. */
  error?: string;
  /** The remote participant shown large (active speaker); null when nobody spoke yet. */
  activeSpeaker: string | null;
  /** Screen sharing possible: supported by the browser, not disabled by the admin, not audio-only. */
  canShareScreen: boolean;
  /** Audio-only mode (media settings) in effect for this call: no video in or out. */
  audioOnly: boolean;
}

/**
 * How to start a call or join a room: `video: false` joins with audio only (fragment auto=1);
 * `muteMic`/`muteCam` start muted (fragment mute=1|2|3).
 */
export interface CallOptions {
  video?: boolean;
  muteMic?: boolean;
  muteCam?: boolean;
}

export interface CallEngine {
  getState(): EngineState;
  subscribe(fn: (s: EngineState) => void): () => void;
  call(peer: PeerInfo, opts?: CallOptions): void;
  accept(opts?: CallOptions): void;
  decline(): void;
  ignore(): void;
  hangup(): void;
  joinRoom(scope: 'group' | 'conference', id: string, opts?: CallOptions): void;
  leaveRoom(): void;
  setMic(on: boolean): void;
  setCamera(on: boolean): void;
  startScreenShare(): Promise<void>;
  stopScreenShare(): void;
  /** Resolves true once the server took the message, false when it could not be sent. */
  sendChat(text: string): Promise<boolean>;
  setHandRaised(on: boolean): void;
  /** Clears `error` and `ended` (the user dismissed the notice). */
  dismiss(): void;
  /** Stops everything (sign-out). */
  close(): void;
}

export const EngineContext = createContext<CallEngine | null>(null);
