// The page the hidden sign-in iframe lands on: hands the answer back to the app's UserManager.
import { UserManager } from 'oidc-client-ts';

void new UserManager({ authority: '', client_id: '', redirect_uri: '' }).signinSilentCallback();
