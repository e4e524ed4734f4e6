import { createAppRouter } from './routes';
import DataView from './views/DataView.vue';
import ExperimentsView from './views/ExperimentsView.vue';
import GenerateView from './views/GenerateView.vue';
import NotFoundView from './views/NotFoundView.vue';
import RunView from './views/RunView.vue';
import TrainView from './views/TrainView.vue';

/** The app's router: the page table of ./routes with the views filled in. */
export const router = createAppRouter({
  data: DataView,
  train: TrainView,
  generate: GenerateView,
  experiments: ExperimentsView,
  run: RunView,
  'not-found': NotFoundView,
});
